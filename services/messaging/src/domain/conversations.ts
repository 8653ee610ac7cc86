import { AppError, decodePosition, encodePosition, newId, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import type { ConversationMode, MemberRole } from '../db/schema.js';
import { acceptance, memberOf, notAccepting } from './access.js';
import * as mq from '../db/queries/messages.js';
import { conversationView, messageView, type ConversationView, type MessageView } from './views.js';

export const MAX_NAME = 100;

export interface RequestMeta {
  correlationId?: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * The server cannot write or read an e2ee conversation's content: messages go as device envelopes
 * (POST …/envelopes), and edits, recalls, reactions and receipts travel inside them.
 */
export function e2eeContentRefused(): AppError {
  return new AppError('CONFLICT', 'this conversation is end-to-end encrypted: send device envelopes (POST /api/v1/conversations/:id/envelopes); edits, recalls, reactions and receipts travel inside them', { details: { reason: 'e2ee_conversation' } });
}

/** `<smaller id>:<larger id>`, with `:e2ee` appended for the pair's end-to-end-encrypted conversation (a pair may have one of each). */
const directKey = (a: string, b: string, mode: ConversationMode) => `${a < b ? `${a}:${b}` : `${b}:${a}`}${mode === 'e2ee' ? ':e2ee' : ''}`;

/**
 * The direct conversation of the caller and `otherId`: the existing one (`created: false`), or a new one.
 * A block either way forbids it (403). When the other user's who_can_message setting admits the caller,
 * both are active members; otherwise it is made as a message request: the other user's membership is
 * `request` (listed under GET /conversations/requests, no normal frames or notifications) until they
 * accept or delete it. ConversationCreated goes out in the same transaction.
 */
export async function openDirect(ctx: AppContext, caller: AuthIdentity, otherId: string, mode: ConversationMode, meta: RequestMeta): Promise<{ view: ConversationView; created: boolean }> {
  const me = caller.userId;
  const other = otherId.toLowerCase();
  if (other === me) throw new AppError('VALIDATION_FAILED', 'a direct conversation needs another user', { details: { field: 'user_id' } });
  const { accepting, missing, blocked } = await acceptance(ctx, me, [other]);
  if (missing.length > 0) throw new AppError('NOT_FOUND', 'user not found', { details: { field: 'user_id' } });
  if (blocked.has(other)) throw notAccepting();
  const key = directKey(me, other, mode);
  const existing = await cq.findDirect(ctx.db, key);
  if (existing) {
    const mine = await cq.findMember(ctx.db, existing.id, me);
    // The caller deleted a request from this user and now writes to them: that is accepting it.
    if (mine?.status === 'declined') await cq.setStatus(ctx.db, existing.id, me, 'active');
    if (mine) return { view: await viewFor(ctx, existing.id, me), created: false };
  }
  const request = !accepting.has(other);

  const created = await ctx.db.transaction().execute(async (tx) => {
    const conv = await cq.insertConversation(tx, { id: newId(), kind: 'direct', mode, direct_key: key, created_by: me });
    if (!conv) return undefined;
    await cq.upsertMembers(tx, [
      { conversation_id: conv.id, user_id: me, role: 'member' as const, added_by: me },
      { conversation_id: conv.id, user_id: other, role: 'member' as const, added_by: me, status: request ? ('request' as const) : ('active' as const) },
    ]);
    await ctx.outbox.add(tx, {
      aggregate: 'conversation',
      action: 'created',
      type: 'ConversationCreated',
      entityId: conv.id,
      data: { conversation_id: conv.id, kind: 'direct', mode, created_by: me, member_ids: [me, other], request },
      correlationId: meta.correlationId ?? null,
    });
    return conv;
  });
  // A concurrent request made the same pair's conversation first: it is the answer.
  const id = created?.id ?? (await cq.findDirect(ctx.db, key))?.id;
  if (!id) throw new AppError('CONFLICT', 'the conversation is being created; try again');
  const view = await viewFor(ctx, id, me);
  // A request reaches the recipient with its first message (`message_request`), not as a new conversation.
  if (created) await ctx.realtime.publish(request ? [me] : [me, other], { type: 'conversation_created', conversation_id: id });
  return { view, created: created !== undefined };
}

/** The caller's pending message requests, most recent activity first. */
export async function listRequests(ctx: AppContext, caller: AuthIdentity, limit: number, cursor: string | undefined): Promise<Page<InboxItem>> {
  return inbox(ctx, caller, limit, cursor, { requests: true });
}

/** Accepts a message request: the conversation becomes a normal one for the caller; the sender gets `request_accepted`. */
export async function acceptRequest(ctx: AppContext, caller: AuthIdentity, id: string, meta: RequestMeta): Promise<ConversationView> {
  const { conversation, member } = await memberOf(ctx.db, id, caller.userId, false, { requests: true });
  if (member.status !== 'request') throw new AppError('NOT_FOUND', 'no message request in this conversation');
  await ctx.db.transaction().execute(async (tx) => {
    await cq.setStatus(tx, conversation.id, caller.userId, 'active');
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'request_accepted', type: 'MessageRequestAccepted', entityId: conversation.id, data: { conversation_id: conversation.id, user_id: caller.userId }, correlationId: meta.correlationId ?? null });
  });
  await ctx.realtime.publish([caller.userId], { type: 'conversation_created', conversation_id: conversation.id });
  await ctx.realtime.publish((await cq.activeMemberIds(ctx.db, conversation.id)).filter((u) => u !== caller.userId), { type: 'request_accepted', conversation_id: conversation.id, user_id: caller.userId });
  return viewFor(ctx, conversation.id, caller.userId);
}

/**
 * Deletes a message request: it disappears for the caller (the sender is not told, and keeps their side).
 * Should the sender write again, a new request shows only the messages from then on.
 */
export async function deleteRequest(ctx: AppContext, caller: AuthIdentity, id: string): Promise<void> {
  const { conversation, member } = await memberOf(ctx.db, id, caller.userId, false, { requests: true });
  if (member.status !== 'request') throw new AppError('NOT_FOUND', 'no message request in this conversation');
  const locked = await ctx.db.transaction().execute(async (tx) => {
    const row = await cq.lockConversation(tx, conversation.id);
    if (!row) throw new AppError('NOT_FOUND', 'conversation not found');
    await cq.setStatus(tx, conversation.id, caller.userId, 'declined', Number(row.last_seq));
    // e2ee: what the request queued for the caller's devices goes too (a new request shows only what comes after).
    await tx
      .deleteFrom('envelopes')
      .where('conversation_id', '=', conversation.id)
      .where('recipient_device', 'in', (eb) => eb.selectFrom('devices').select('id').where('user_id', '=', caller.userId))
      .execute();
    return row;
  });
  await ctx.realtime.publish([caller.userId], { type: 'request_deleted', conversation_id: locked.id });
}

/** The caller's own mute and archive flags of a conversation. */
export async function setFlags(ctx: AppContext, caller: AuthIdentity, id: string, flags: { muted?: boolean | undefined; archived?: boolean | undefined }): Promise<ConversationView> {
  const { conversation } = await memberOf(ctx.db, id, caller.userId);
  const patch: { muted?: boolean; archived?: boolean } = {};
  if (flags.muted !== undefined) patch.muted = flags.muted;
  if (flags.archived !== undefined) patch.archived = flags.archived;
  if (Object.keys(patch).length === 0) throw new AppError('VALIDATION_FAILED', 'give muted and/or archived', { details: { field: 'muted' } });
  await cq.setMemberFlags(ctx.db, conversation.id, caller.userId, patch);
  const view = await viewFor(ctx, conversation.id, caller.userId);
  await ctx.realtime.publish([caller.userId], { type: 'conversation_flags', conversation_id: conversation.id, muted: view.muted, archived: view.archived });
  return view;
}

/** A group with the caller as owner; every other member must accept messages from the caller. */
export async function createGroup(ctx: AppContext, caller: AuthIdentity, input: { name: string; avatar_media_id?: string | undefined; member_ids: string[]; mode: ConversationMode }, meta: RequestMeta): Promise<ConversationView> {
  const me = caller.userId;
  const name = cleanName(input.name);
  const avatar = input.avatar_media_id?.toLowerCase() ?? null;
  const others = [...new Set(input.member_ids.map((id) => id.toLowerCase()))].filter((id) => id !== me);
  if (others.length === 0) throw new AppError('VALIDATION_FAILED', 'a group needs at least one other member', { details: { field: 'member_ids' } });
  if (others.length + 1 > ctx.config.MESSAGING_MAX_GROUP_MEMBERS) {
    throw new AppError('VALIDATION_FAILED', `a group has at most ${ctx.config.MESSAGING_MAX_GROUP_MEMBERS} members`, { details: { field: 'member_ids', max: ctx.config.MESSAGING_MAX_GROUP_MEMBERS } });
  }
  await assertAccepting(ctx, me, others);

  const conv = await ctx.db.transaction().execute(async (tx) => {
    const row = (await cq.insertConversation(tx, { id: newId(), kind: 'group', mode: input.mode, name, avatar_media_id: avatar, created_by: me }))!;
    await cq.upsertMembers(tx, [
      { conversation_id: row.id, user_id: me, role: 'owner', added_by: me },
      ...others.map((user_id) => ({ conversation_id: row.id, user_id, role: 'member' as const, added_by: me })),
    ]);
    await ctx.outbox.add(tx, {
      aggregate: 'conversation',
      action: 'created',
      type: 'ConversationCreated',
      entityId: row.id,
      data: { conversation_id: row.id, kind: 'group', mode: input.mode, created_by: me, member_ids: [me, ...others] },
      correlationId: meta.correlationId ?? null,
    });
    return row;
  });
  await ctx.realtime.publish([me, ...others], { type: 'conversation_created', conversation_id: conv.id });
  return viewFor(ctx, conv.id, me);
}

async function assertAccepting(ctx: AppContext, me: string, others: string[]): Promise<void> {
  const { refusing, missing } = await acceptance(ctx, me, others);
  if (missing.length > 0) throw new AppError('NOT_FOUND', missing.length > 1 ? 'some users were not found' : 'user not found', { details: { field: 'member_ids', user_ids: missing } });
  if (refusing.length > 0) throw notAccepting(refusing);
}

function cleanName(name: string): string {
  const t = name.trim();
  if (t.length === 0 || t.length > MAX_NAME) throw new AppError('VALIDATION_FAILED', `name must be 1-${MAX_NAME} characters`, { details: { field: 'name' } });
  return t;
}

async function viewFor(ctx: AppContext, conversationId: string, userId: string): Promise<ConversationView> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, userId, false, { requests: true });
  return conversationView(conversation, member);
}

export type InboxItem = ConversationView & { peer_id: string | null; last_message: MessageView | null };

/**
 * The caller's conversations, most recent activity first (keyset on activity time and id), each with its
 * unread count and the latest message the caller may see. Archived ones only with `archived`.
 */
export async function listConversations(ctx: AppContext, caller: AuthIdentity, limit: number, cursor: string | undefined, archived = false): Promise<Page<InboxItem>> {
  return inbox(ctx, caller, limit, cursor, { archived });
}

async function inbox(ctx: AppContext, caller: AuthIdentity, limit: number, cursor: string | undefined, opts: { archived?: boolean; requests?: boolean }): Promise<Page<InboxItem>> {
  const after = decodePosition(cursor);
  const rows = await cq.inboxPage(ctx.db, caller.userId, limit + 1, { after, ...opts });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const lastIds = page.flatMap((r) => (r.last_id ? [r.last_id] : []));
  const lastMessages = new Map((await hydrateIds(ctx, lastIds)).map((m) => [m.id, m]));
  return {
    items: page.map((r) => ({
      ...conversationView(r, r),
      peer_id: r.direct_key ? (r.direct_key.split(':').find((id) => id !== caller.userId) ?? null) : null,
      last_message: r.last_id ? (lastMessages.get(r.last_id) ?? null) : null,
    })),
    next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.id) : null,
  };
}

async function hydrateIds(ctx: AppContext, ids: string[]): Promise<MessageView[]> {
  const rows = await mq.findByIds(ctx.db, ids);
  const deleted = await mq.deletedAmong(ctx.db, rows.flatMap((r) => (r.sender_id ? [r.sender_id] : [])));
  return rows.map((r) => messageView(ctx, r, { senderDeleted: r.sender_id !== null && deleted.has(r.sender_id) }));
}

export interface MemberView {
  user_id: string;
  role: MemberRole;
  joined_at: string;
  last_delivered_seq: number;
  /** Null when the member turned read receipts off (the caller always sees their own). */
  last_read_seq: number | null;
}

/** A conversation with its members and their delivered/read positions (read ones only where the member allows). */
export async function getConversation(ctx: AppContext, caller: AuthIdentity, id: string): Promise<ConversationView & { members: MemberView[] }> {
  const { conversation, member } = await memberOf(ctx.db, id, caller.userId, false, { requests: true });
  const members = await cq.activeMembers(ctx.db, conversation.id);
  const settings = await ctx.users.settings(members.map((m) => m.user_id).filter((u) => u !== caller.userId));
  return {
    ...conversationView(conversation, member),
    members: members.map((m) => {
      // A pending (or deleted) message request has no positions to show others: deleting one moves them
      // (to hide the history), which would tell the sender what the recipient did.
      const own = m.user_id === caller.userId;
      const hidden = !own && m.status !== 'active';
      return {
        user_id: m.user_id,
        role: m.role,
        joined_at: m.joined_at.toISOString(),
        last_delivered_seq: hidden ? 0 : Number(m.last_delivered_seq),
        last_read_seq: hidden ? 0 : own || settings.get(m.user_id)?.readReceipts !== false ? Number(m.last_read_seq) : null,
      };
    }),
  };
}

function assertGroupAdmin(kind: string, role: MemberRole, what: string): void {
  if (kind !== 'group') throw new AppError('VALIDATION_FAILED', `only a group can ${what}`);
  if (role === 'member') throw new AppError('FORBIDDEN', `only the group's owner or an admin can ${what}`);
}

/** Renames a group and/or changes its avatar (owner or admin). */
export async function updateGroup(ctx: AppContext, caller: AuthIdentity, id: string, input: { name?: string | undefined; avatar_media_id?: string | null | undefined }, meta: RequestMeta): Promise<ConversationView> {
  const patch: { name?: string; avatar_media_id?: string | null } = {};
  if (input.name !== undefined) patch.name = cleanName(input.name);
  if (input.avatar_media_id !== undefined) patch.avatar_media_id = input.avatar_media_id?.toLowerCase() ?? null;
  if (Object.keys(patch).length === 0) throw new AppError('VALIDATION_FAILED', 'give name and/or avatar_media_id', { details: { field: 'name' } });
  const pre = await memberOf(ctx.db, id, caller.userId);
  const conv = await ctx.db.transaction().execute(async (tx) => {
    await cq.lockConversation(tx, pre.conversation.id);
    const { conversation, member } = await memberOf(tx, id, caller.userId, true);
    assertGroupAdmin(conversation.kind, member.role, 'be changed');
    const row = await cq.updateGroup(tx, conversation.id, patch);
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'updated', type: 'ConversationUpdated', entityId: row.id, data: { conversation_id: row.id, ...patch, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return row;
  });
  await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, conv.id), { type: 'conversation_updated', conversation_id: conv.id, name: conv.name, avatar_media_id: conv.avatar_media_id });
  return viewFor(ctx, conv.id, caller.userId);
}

/**
 * Adds members to a group (owner or admin); each must accept messages from the caller. New members see
 * the messages sent from now on, not the history before they joined.
 */
export async function addMembers(ctx: AppContext, caller: AuthIdentity, id: string, userIds: string[], meta: RequestMeta): Promise<string[]> {
  const wanted = [...new Set(userIds.map((u) => u.toLowerCase()))].filter((u) => u !== caller.userId);
  if (wanted.length === 0) throw new AppError('VALIDATION_FAILED', 'name at least one user other than yourself', { details: { field: 'user_ids' } });
  const pre = await memberOf(ctx.db, id, caller.userId);
  assertGroupAdmin(pre.conversation.kind, pre.member.role, 'add members');
  // The size first: no need to ask the user service about a list that cannot fit anyway.
  const max = ctx.config.MESSAGING_MAX_GROUP_MEMBERS;
  const present = new Set(await cq.activeMemberIds(ctx.db, pre.conversation.id));
  if (present.size + wanted.filter((u) => !present.has(u)).length > max) {
    throw new AppError('VALIDATION_FAILED', `a group has at most ${max} members`, { details: { field: 'user_ids', max } });
  }
  await assertAccepting(ctx, caller.userId, wanted);

  const added = await ctx.db.transaction().execute(async (tx) => {
    // The conversation row lock orders this against senders: the join position is exact.
    const locked = await cq.lockConversation(tx, pre.conversation.id);
    if (!locked) throw new AppError('NOT_FOUND', 'conversation not found');
    const { conversation, member } = await memberOf(tx, id, caller.userId, true);
    assertGroupAdmin(conversation.kind, member.role, 'add members');
    const current = new Set(await cq.activeMemberIds(tx, conversation.id));
    const fresh = wanted.filter((u) => !current.has(u));
    if (current.size + fresh.length > ctx.config.MESSAGING_MAX_GROUP_MEMBERS) {
      throw new AppError('VALIDATION_FAILED', `a group has at most ${ctx.config.MESSAGING_MAX_GROUP_MEMBERS} members`, { details: { field: 'user_ids', max: ctx.config.MESSAGING_MAX_GROUP_MEMBERS } });
    }
    if (fresh.length === 0) return [];
    const seq = Number(locked.last_seq);
    await cq.upsertMembers(tx, fresh.map((user_id) => ({ conversation_id: conversation.id, user_id, role: 'member' as const, added_by: caller.userId, visible_from_seq: seq, last_read_seq: seq, last_delivered_seq: seq })));
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'members_added', type: 'MembersAdded', entityId: conversation.id, data: { conversation_id: conversation.id, user_ids: fresh, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return fresh;
  });
  if (added.length > 0) {
    await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, pre.conversation.id), { type: 'members_added', conversation_id: pre.conversation.id, user_ids: added, by: caller.userId });
  }
  return added;
}

/**
 * Removes a member from a group: yourself (leaving), or anyone else when you are the owner or an admin
 * (an admin cannot remove the owner). When the owner leaves, the longest-standing admin, else member,
 * becomes owner. Direct conversations cannot be left.
 */
export async function removeMember(ctx: AppContext, caller: AuthIdentity, id: string, userId: string, meta: RequestMeta): Promise<void> {
  const target = userId.toLowerCase();
  const pre = await memberOf(ctx.db, id, caller.userId);
  const convId = await ctx.db.transaction().execute(async (tx) => {
    await cq.lockConversation(tx, pre.conversation.id);
    const { conversation, member } = await memberOf(tx, id, caller.userId, true);
    if (conversation.kind !== 'group') throw new AppError('VALIDATION_FAILED', 'a direct conversation cannot be left');
    const self = target === caller.userId;
    if (!self) {
      assertGroupAdmin(conversation.kind, member.role, 'remove members');
    }
    const victim = await cq.findMember(tx, conversation.id, target);
    if (!victim) throw new AppError('NOT_FOUND', 'not a member of this conversation', { details: { field: 'user_id' } });
    if (!self && victim.role === 'owner') throw new AppError('FORBIDDEN', "the group's owner cannot be removed");
    await cq.leave(tx, conversation.id, target, caller.userId);
    if (victim.role === 'owner') {
      const rest = await cq.activeMembers(tx, conversation.id);
      const heir = rest.find((m) => m.role === 'admin') ?? rest[0];
      if (heir) await cq.setRole(tx, conversation.id, heir.user_id, 'owner');
    }
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'member_left', type: 'MemberLeft', entityId: conversation.id, data: { conversation_id: conversation.id, user_id: target, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return conversation.id;
  });
  await ctx.realtime.publish([...(await cq.activeMemberIds(ctx.db, convId)), target], { type: 'member_left', conversation_id: convId, user_id: target, by: caller.userId });
}

/**
 * Changes a group member's role (owner only): `admin` or `member`, or `owner` to hand the group over (the
 * previous owner becomes an admin). Emits MemberRoleChanged; members get a `member_role_changed` frame.
 */
export async function setMemberRole(ctx: AppContext, caller: AuthIdentity, id: string, userId: string, role: MemberRole, meta: RequestMeta): Promise<void> {
  const target = userId.toLowerCase();
  const pre = await memberOf(ctx.db, id, caller.userId);
  const changed = await ctx.db.transaction().execute(async (tx) => {
    await cq.lockConversation(tx, pre.conversation.id);
    const { conversation, member } = await memberOf(tx, id, caller.userId, true);
    if (conversation.kind !== 'group') throw new AppError('VALIDATION_FAILED', 'only a group has roles');
    if (member.role !== 'owner') throw new AppError('FORBIDDEN', "only the group's owner can change roles");
    if (target === caller.userId) throw new AppError('VALIDATION_FAILED', 'hand the group to someone else to change your own role', { details: { field: 'userId' } });
    const subject = await cq.findMember(tx, conversation.id, target);
    if (!subject) throw new AppError('NOT_FOUND', 'not a member of this conversation', { details: { field: 'userId' } });
    if (subject.role === role) return false;
    await cq.setRole(tx, conversation.id, target, role);
    if (role === 'owner') await cq.setRole(tx, conversation.id, caller.userId, 'admin');
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'member_role_changed', type: 'MemberRoleChanged', entityId: conversation.id, data: { conversation_id: conversation.id, user_id: target, role, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return true;
  });
  if (changed) await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, pre.conversation.id), { type: 'member_role_changed', conversation_id: pre.conversation.id, user_id: target, role, by: caller.userId });
}
