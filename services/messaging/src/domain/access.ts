import { AppError, type DbOrTx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import type { MessagingDb } from '../db/schema.js';

export interface Membership {
  conversation: cq.ConversationRow;
  member: cq.MemberRow;
}

/** The one answer for a conversation the caller is not in: whether it exists stays hidden. */
export const conversationNotFound = () => new AppError('NOT_FOUND', 'conversation not found');

/** A message request the caller has not accepted: readable (to decide), nothing else. */
export const requestPending = () => new AppError('CONFLICT', 'accept the message request first', { details: { reason: 'message_request' } });

/**
 * The caller's active membership of a live conversation, checked on every read and write; NOT_FOUND for
 * a missing conversation and for one the caller is not (or no longer) in alike, and for a message request
 * the caller deleted. A pending message request passes only where `requests` is set (reading it to
 * decide); elsewhere it is a CONFLICT (`details.reason: message_request`). Inside a transaction, `lock`
 * holds the membership (FOR SHARE) so a concurrent removal waits for the write.
 */
export async function memberOf(db: DbOrTx<MessagingDb>, conversationId: string, userId: string, lock = false, opts: { requests?: boolean } = {}): Promise<Membership> {
  const id = conversationId.toLowerCase();
  const member = await cq.findMember(db, id, userId, lock);
  if (!member || member.status === 'declined') throw conversationNotFound();
  const conversation = await cq.findConversation(db, id);
  if (!conversation) throw conversationNotFound();
  if (member.status === 'request' && !opts.requests) throw requestPending();
  return { conversation, member };
}

/** The same refusal for a block and for a recipient's "who may message me" setting, so a block stays private. */
export const notAccepting = (ids?: string[]) =>
  new AppError('FORBIDDEN', ids && ids.length > 1 ? 'some of these users do not accept messages from you' : 'this user does not accept messages from you', ids ? { details: { user_ids: ids } } : {});

/**
 * Which of `recipients` accept messages from `senderId`: a live account, no block either way, and their
 * `who_can_message` setting allows it (`everyone`; `followers`: the sender is an approved follower of
 * theirs; `nobody`). Unknown or deleted users are in `missing`; `blocked` are those with a block either way
 * (also in `refusing`).
 */
export async function acceptance(ctx: AppContext, senderId: string, recipients: readonly string[]): Promise<{ accepting: Set<string>; refusing: string[]; missing: string[]; blocked: Set<string> }> {
  const [settings, blocked] = await Promise.all([ctx.users.settings(recipients), ctx.users.blockedEitherWay(senderId)]);
  const missing = recipients.filter((id) => !settings.has(id));
  const followersOnly = recipients.filter((id) => settings.get(id)?.whoCanMessage === 'followers' && !blocked.has(id));
  // "followers" means the recipient's followers: the sender must follow them.
  const follows = followersOnly.length > 0 ? await ctx.users.followedAmong(senderId, followersOnly) : new Set<string>();
  const accepting = new Set<string>();
  const refusing: string[] = [];
  for (const id of recipients) {
    const s = settings.get(id);
    if (!s) continue;
    const ok = !blocked.has(id) && (s.whoCanMessage === 'everyone' || (s.whoCanMessage === 'followers' && follows.has(id)));
    if (ok) accepting.add(id);
    else refusing.push(id);
  }
  return { accepting, refusing, missing, blocked: new Set(recipients.filter((id) => blocked.has(id))) };
}
