import { AppError, decodePosition, encodePosition, newId, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import type { ConversationMode, MemberRole } from '../db/schema.js';
import { acceptance, memberOf, notAccepting } from './access.js';
import { conversationView, type ConversationView } from './views.js';

export const MAX_TITLE = 100;

export interface RequestMeta {
  correlationId?: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Issue 8 brings device keys and envelopes; until then an e2ee conversation cannot be made or written to. */
export function e2eeNotSupported(): AppError {
  return new AppError('NOT_IMPLEMENTED', 'end-to-end-encrypted conversations are not supported yet; use mode "standard"', { details: { field: 'mode' } });
}

const directKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/**
 * The direct conversation of the caller and `otherId`: the existing one (`created: false`), or a new one
 * when the other user accepts messages from the caller (no block either way, their who_can_message
 * allows it). ConversationCreated goes out in the same transaction.
 */
export async function openDirect(ctx: AppContext, caller: AuthIdentity, otherId: string, mode: ConversationMode, meta: RequestMeta): Promise<{ view: ConversationView; created: boolean }> {
  const me = caller.userId;
  const other = otherId.toLowerCase();
  if (other === me) throw new AppError('VALIDATION_FAILED', 'a direct conversation needs another user', { details: { field: 'user_id' } });
  if (mode === 'e2ee') throw e2eeNotSupported();
  const key = directKey(me, other);
  const existing = await cq.findDirect(ctx.db, key);
  if (existing) return { view: await viewFor(ctx, existing.id, me), created: false };

  const { accepting, missing } = await acceptance(ctx, me, [other]);
  if (missing.length > 0) throw new AppError('NOT_FOUND', 'user not found', { details: { field: 'user_id' } });
  if (!accepting.has(other)) throw notAccepting();

  const created = await ctx.db.transaction().execute(async (tx) => {
    const conv = await cq.insertConversation(tx, { id: newId(), kind: 'direct', mode, direct_key: key, created_by: me });
    if (!conv) return undefined;
    await cq.upsertMembers(tx, [me, other].map((user_id) => ({ conversation_id: conv.id, user_id, role: 'member' as const, added_by: me })));
    await ctx.outbox.add(tx, {
      aggregate: 'conversation',
      action: 'created',
      type: 'ConversationCreated',
      entityId: conv.id,
      data: { conversation_id: conv.id, kind: 'direct', mode, created_by: me, member_ids: [me, other] },
      correlationId: meta.correlationId ?? null,
    });
    return conv;
  });
  // A concurrent request made the same pair's conversation first: it is the answer.
  const id = created?.id ?? (await cq.findDirect(ctx.db, key))?.id;
  if (!id) throw new AppError('CONFLICT', 'the conversation is being created; try again');
  const view = await viewFor(ctx, id, me);
  if (created) await ctx.realtime.publish([me, other], { type: 'conversation_created', conversation_id: id });
  return { view, created: created !== undefined };
}

/** A group with the caller as owner; every other member must accept messages from the caller. */
export async function createGroup(ctx: AppContext, caller: AuthIdentity, input: { title: string; member_ids: string[]; mode: ConversationMode }, meta: RequestMeta): Promise<ConversationView> {
  const me = caller.userId;
  if (input.mode === 'e2ee') throw e2eeNotSupported();
  const title = cleanTitle(input.title);
  const others = [...new Set(input.member_ids.map((id) => id.toLowerCase()))].filter((id) => id !== me);
  if (others.length === 0) throw new AppError('VALIDATION_FAILED', 'a group needs at least one other member', { details: { field: 'member_ids' } });
  if (others.length + 1 > ctx.config.MESSAGING_MAX_GROUP_MEMBERS) {
    throw new AppError('VALIDATION_FAILED', `a group has at most ${ctx.config.MESSAGING_MAX_GROUP_MEMBERS} members`, { details: { field: 'member_ids', max: ctx.config.MESSAGING_MAX_GROUP_MEMBERS } });
  }
  await assertAccepting(ctx, me, others);

  const conv = await ctx.db.transaction().execute(async (tx) => {
    const row = (await cq.insertConversation(tx, { id: newId(), kind: 'group', mode: input.mode, title, created_by: me }))!;
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

function cleanTitle(title: string): string {
  const t = title.trim();
  if (t.length === 0 || t.length > MAX_TITLE) throw new AppError('VALIDATION_FAILED', `title must be 1-${MAX_TITLE} characters`, { details: { field: 'title' } });
  return t;
}

async function viewFor(ctx: AppContext, conversationId: string, userId: string): Promise<ConversationView> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, userId);
  return conversationView(conversation, member);
}

/** The caller's conversations, most recent activity first (keyset on activity time and id). */
export async function listConversations(ctx: AppContext, caller: AuthIdentity, limit: number, cursor: string | undefined): Promise<Page<ConversationView & { peer_id: string | null }>> {
  const after = decodePosition(cursor);
  const rows = await cq.inboxPage(ctx.db, caller.userId, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({ ...conversationView(r, r), peer_id: r.direct_key ? (r.direct_key.split(':').find((id) => id !== caller.userId) ?? null) : null })),
    next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.id) : null,
  };
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
  const { conversation, member } = await memberOf(ctx.db, id, caller.userId);
  const members = await cq.activeMembers(ctx.db, conversation.id);
  const settings = await ctx.users.settings(members.map((m) => m.user_id).filter((u) => u !== caller.userId));
  return {
    ...conversationView(conversation, member),
    members: members.map((m) => ({
      user_id: m.user_id,
      role: m.role,
      joined_at: m.joined_at.toISOString(),
      last_delivered_seq: Number(m.last_delivered_seq),
      last_read_seq: m.user_id === caller.userId || settings.get(m.user_id)?.readReceipts !== false ? Number(m.last_read_seq) : null,
    })),
  };
}

function assertGroupAdmin(kind: string, role: MemberRole, what: string): void {
  if (kind !== 'group') throw new AppError('VALIDATION_FAILED', `only a group can ${what}`);
  if (role === 'member') throw new AppError('FORBIDDEN', `only the group's owner or an admin can ${what}`);
}

/** Renames a group (owner or admin). */
export async function renameGroup(ctx: AppContext, caller: AuthIdentity, id: string, title: string, meta: RequestMeta): Promise<ConversationView> {
  const clean = cleanTitle(title);
  const pre = await memberOf(ctx.db, id, caller.userId);
  const conv = await ctx.db.transaction().execute(async (tx) => {
    await cq.lockConversation(tx, pre.conversation.id);
    const { conversation, member } = await memberOf(tx, id, caller.userId, true);
    assertGroupAdmin(conversation.kind, member.role, 'be renamed');
    const row = await cq.setTitle(tx, conversation.id, clean);
    await ctx.outbox.add(tx, { aggregate: 'conversation', action: 'updated', type: 'ConversationUpdated', entityId: row.id, data: { conversation_id: row.id, title: clean, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return row;
  });
  await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, conv.id), { type: 'conversation_updated', conversation_id: conv.id, title: clean });
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
