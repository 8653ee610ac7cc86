import { AppError, sql, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as eq from '../db/queries/e2ee.js';
import * as cq from '../db/queries/conversations.js';
import { conversationNotFound, memberOf } from '../domain/access.js';
import type { RequestMeta } from '../domain/conversations.js';
import { assertMaySend } from '../domain/messages.js';
import { currentDevice, decodeBase64 } from './keys.js';

/** Envelopes one page of GET /devices/me/envelopes (and one ack) may hold. */
export const MAX_PAGE = 100;
/** Envelope ids one acknowledgement may name. */
export const MAX_ACK = 500;
/** Envelopes one send may carry (every device of every member: 10 devices × the largest group). */
export const MAX_SEND_ENVELOPES = 10_000;

export interface OutgoingEnvelope {
  user_id: string;
  device_id: number;
  registration_id: number;
  /** The libsignal ciphertext message type (2 = whisper, 3 = prekey, …): opaque to the server. */
  type: number;
  /** Base64 of the ciphertext. */
  content: string;
}

/** What the server hands a device: the routing metadata and the opaque ciphertext. */
export interface EnvelopeView {
  id: string;
  conversation_id: string;
  sender_id: string;
  sender_device_id: number;
  type: number;
  content: string;
  server_timestamp: string;
}

const envelopeView = (r: eq.EnvelopeRow): EnvelopeView => ({
  id: String(r.id),
  conversation_id: r.conversation_id,
  sender_id: r.sender_id,
  sender_device_id: r.sender_device_id,
  type: r.type,
  content: r.content.toString('base64'),
  server_timestamp: r.created_at.toISOString(),
});

const addr = (userId: string, deviceId: number) => `${userId}.${deviceId}`;

/**
 * Sends one message of an e2ee conversation: one ciphertext envelope per device of every member, the
 * sender's own other devices included and the sending device excluded. The set must equal the current
 * device list: 409 with `missing` and `extra` devices, or, when it does, 410 with `stale` devices (the
 * registration id changed: re-registered) — nothing is queued unless everything is right. Device lists are
 * read under shared per-user locks that device registration takes exclusively, so a device registered
 * after the check is not owed this message and one registered before it is never silently skipped.
 */
export async function sendEnvelopes(ctx: AppContext, caller: AuthIdentity, conversationId: string, envelopes: OutgoingEnvelope[], meta: RequestMeta): Promise<{ server_timestamp: string; count: number }> {
  const sender = await currentDevice(ctx, caller);
  const pre = await memberOf(ctx.db, conversationId, caller.userId);
  if (pre.conversation.mode !== 'e2ee') throw new AppError('CONFLICT', 'envelopes go to e2ee conversations only; send messages to a standard conversation', { details: { reason: 'not_e2ee' } });
  await assertMaySend(ctx, pre, caller.userId);
  const maxBytes = ctx.config.MESSAGING_E2EE_MAX_ENVELOPE_KIB * 1024;
  const decoded = envelopes.map((e, i) => {
    const content = decodeBase64(e.content, `envelopes[${i}].content`);
    if (content.length === 0) throw new AppError('VALIDATION_FAILED', 'an envelope needs content', { details: { field: `envelopes[${i}].content` } });
    if (content.length > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `an envelope holds at most ${ctx.config.MESSAGING_E2EE_MAX_ENVELOPE_KIB} KiB`, { details: { field: `envelopes[${i}].content`, max_bytes: maxBytes } });
    return { ...e, user_id: e.user_id.toLowerCase(), content };
  });
  const given = new Map(decoded.map((e) => [addr(e.user_id, e.device_id), e]));
  if (given.size !== decoded.length) throw new AppError('VALIDATION_FAILED', 'one envelope per device', { details: { field: 'envelopes' } });

  const convId = pre.conversation.id;
  const result = await ctx.db.transaction().execute(async (tx) => {
    // The conversation row first, then the membership (the lock order of every conversation write): the
    // row is updated below, and taking it after the membership deadlocked against removals and role changes.
    if (!(await cq.lockConversation(tx, convId))) throw conversationNotFound();
    const m = await memberOf(tx, convId, caller.userId, true);
    // As in standard conversations: a recipient who deleted the sender's request gets a new one, and the
    // envelopes, instead of the message going nowhere.
    const revived = await eq.reviveDeclined(tx, m.conversation.id);
    const users = await eq.conversationRecipients(tx, m.conversation.id);
    for (const u of users) await eq.lockDeviceList(tx, u, true);
    const stillSender = await eq.deviceBySession(tx, caller.sessionId);
    if (!stillSender || stillSender.id !== sender.id) throw new AppError('PRECONDITION_FAILED', 'this session has no device', { details: { reason: 'no_device' } });
    const devices = (await eq.liveDevices(tx, users)).filter((d) => d.id !== sender.id);
    const expected = new Map(devices.map((d) => [addr(d.user_id, d.device_id), d]));
    const missing = devices.filter((d) => !given.has(addr(d.user_id, d.device_id))).map((d) => ({ user_id: d.user_id, device_id: d.device_id, registration_id: d.registration_id }));
    const extra = decoded.filter((e) => !expected.has(addr(e.user_id, e.device_id))).map((e) => ({ user_id: e.user_id, device_id: e.device_id }));
    if (missing.length > 0 || extra.length > 0) {
      throw new AppError('CONFLICT', 'the envelopes do not match the devices of the conversation: fetch bundles for the missing devices, drop the extra ones, and retry', { details: { reason: 'device_mismatch', missing, extra } });
    }
    const stale = decoded.filter((e) => expected.get(addr(e.user_id, e.device_id))!.registration_id !== e.registration_id).map((e) => ({ user_id: e.user_id, device_id: e.device_id, registration_id: expected.get(addr(e.user_id, e.device_id))!.registration_id }));
    if (stale.length > 0) throw new AppError('GONE', 'some devices were re-registered: start new sessions with them (fetch their bundles) and retry', { details: { reason: 'stale_devices', stale } });
    const { rows } = await sql<{ now: Date }>`SELECT clock_timestamp() AS now`.execute(tx);
    const at = rows[0]!.now;
    const inserted = await eq.insertEnvelopes(
      tx,
      decoded.map((e) => ({ recipient_device: expected.get(addr(e.user_id, e.device_id))!.id, sender_id: caller.userId, sender_device_id: sender.device_id, conversation_id: convId, type: e.type, content: e.content })),
      at,
    );
    await tx.updateTable('conversations').set({ last_message_at: at, activity_at: at, updated_at: at }).where('id', '=', convId).execute();
    // No content, no count per user: only that the conversation had activity (for notifications).
    await ctx.outbox.add(tx, {
      aggregate: 'conversation',
      action: 'e2ee_activity',
      type: 'E2eeEnvelopesQueued',
      entityId: convId,
      data: { conversation_id: convId, sender_id: caller.userId, recipient_ids: users.filter((u) => u !== caller.userId), at: at.toISOString() },
      correlationId: meta.correlationId ?? null,
    });
    const byId = new Map(devices.map((d) => [d.id, d]));
    return { at, revived, deliveries: inserted.map((r) => ({ row: r, device: byId.get(r.recipient_device)! })) };
  });
  if (result.revived.length > 0) await ctx.realtime.publish(result.revived, { type: 'message_request', conversation_id: convId, from: caller.userId });
  ctx.metrics.envelopesQueued.inc(result.deliveries.length);
  await Promise.all(result.deliveries.map(({ row, device }) => ctx.realtime.publish([device.user_id], { type: 'envelope', envelope: envelopeView(row) }, { sessions: [device.session_id] })));
  return { server_timestamp: result.at.toISOString(), count: result.deliveries.length };
}

const expiry = (ctx: AppContext) => new Date(Date.now() - ctx.config.MESSAGING_E2EE_ENVELOPE_TTL_DAYS * 86_400_000);

/** The calling device's queue, oldest first (keyset on the envelope id; `cursor` is the last id seen). */
export async function listEnvelopes(ctx: AppContext, caller: AuthIdentity, limit: number, cursor: string | undefined): Promise<{ items: EnvelopeView[]; next_cursor: string | null }> {
  if (cursor !== undefined && !/^[0-9]{1,19}$/.test(cursor)) throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: { field: 'cursor' } });
  const device = await currentDevice(ctx, caller);
  const rows = await eq.pageEnvelopes(ctx.db, device.id, cursor, expiry(ctx), limit + 1);
  const items = rows.slice(0, limit).map(envelopeView);
  return { items, next_cursor: rows.length > limit ? items.at(-1)!.id : null };
}

/** Acknowledges (deletes) envelopes of the calling device's queue; ids of other devices' envelopes are ignored. */
export async function ackEnvelopes(ctx: AppContext, identity: Pick<AuthIdentity, 'userId' | 'sessionId'>, ids: readonly string[]): Promise<number> {
  if (ids.length > MAX_ACK || ids.some((id) => !/^[0-9]{1,19}$/.test(id))) throw new AppError('VALIDATION_FAILED', `ids: 1-${MAX_ACK} envelope ids`, { details: { field: 'ids' } });
  const device = await eq.deviceBySession(ctx.db, identity.sessionId);
  if (!device || device.user_id !== identity.userId) throw new AppError('PRECONDITION_FAILED', 'this session has no device: register one with POST /api/v1/devices', { details: { reason: 'no_device' } });
  return eq.ackEnvelopes(ctx.db, device.id, ids);
}

/** Deletes envelopes older than MESSAGING_E2EE_ENVELOPE_TTL_DAYS, in batches, on an interval. */
export function envelopePurger(ctx: AppContext) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = async () => {
    for (;;) {
      const n = await eq.purgeExpired(ctx.db, expiry(ctx), 1_000);
      if (n < 1_000) return;
    }
  };
  return {
    run,
    start() {
      timer = setInterval(() => {
        if (running) return;
        running = run()
          .catch((err: unknown) => ctx.logger.warn({ err }, 'envelope purge failed'))
          .finally(() => (running = undefined));
      }, ctx.config.MESSAGING_E2EE_PURGE_INTERVAL_SECONDS * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
