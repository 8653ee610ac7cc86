import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as mq from '../db/queries/mutes.js';
import { ensureOwnProfile } from './profiles.js';
import { visibleProfile } from './visibility.js';

/** The longest a timed mute may last; longer is what an indefinite mute (no expiry) is for. */
export const MAX_MUTE_SECONDS = 10 * 365 * 24 * 3600;

export interface MuteView {
  user_id: string;
  /** When the mute lapses by itself; null: until unmuted. */
  expires_at: string | null;
  created_at: string;
}

export interface MuteRequest {
  /** An absolute end, in the future. */
  expires_at?: string;
  /** A duration from now, in seconds. */
  duration_seconds?: number;
}

/** The pair in one spelling (ids arrive from tokens and paths; uuids compare as text here); self refused. */
function pair(muterId: string, mutedId: string, verb: 'mute' | 'unmute'): [string, string] {
  const a = muterId.toLowerCase();
  const b = mutedId.toLowerCase();
  if (a === b) throw new AppError('BAD_REQUEST', `you cannot ${verb} yourself`);
  return [a, b];
}

/** The expiry a request asks for: null for none; VALIDATION_FAILED when both forms are given or it is not ahead. */
export function muteExpiry(req: MuteRequest, now = Date.now()): Date | null {
  if (req.expires_at !== undefined && req.duration_seconds !== undefined) {
    throw new AppError('VALIDATION_FAILED', 'give expires_at or duration_seconds, not both', { details: { field: 'expires_at' } });
  }
  if (req.duration_seconds !== undefined) {
    if (!Number.isSafeInteger(req.duration_seconds) || req.duration_seconds < 1 || req.duration_seconds > MAX_MUTE_SECONDS) {
      throw new AppError('VALIDATION_FAILED', `duration_seconds must be a whole number from 1 to ${MAX_MUTE_SECONDS}`, { details: { field: 'duration_seconds' } });
    }
    return new Date(now + req.duration_seconds * 1000);
  }
  if (req.expires_at !== undefined) {
    const at = Date.parse(req.expires_at);
    if (Number.isNaN(at)) throw new AppError('VALIDATION_FAILED', 'expires_at must be an RFC 3339 timestamp', { details: { field: 'expires_at' } });
    if (at <= now) throw new AppError('VALIDATION_FAILED', 'expires_at must be in the future', { details: { field: 'expires_at' } });
    if (at > now + MAX_MUTE_SECONDS * 1000) throw new AppError('VALIDATION_FAILED', 'expires_at is too far ahead (omit it to mute until unmuted)', { details: { field: 'expires_at' } });
    return new Date(at);
  }
  return null;
}

/**
 * Mutes someone the caller can see (404 otherwise, as for a profile), until `expires_at`, for a duration,
 * or until unmuted; muting again replaces the expiry. Nobody is told: the muted person cannot find out. The
 * services that hide content (feed, notification) learn it from `UserMuted`, which carries the expiry —
 * a mute lapses by itself at that time, without a further event.
 */
export async function mute(ctx: AppContext, callerId: string, targetId: string, req: MuteRequest, meta: { correlationId?: string | null } = {}): Promise<MuteView> {
  const [muterId, mutedId] = pair(callerId, targetId, 'mute');
  const expiresAt = muteExpiry(req);
  await ensureOwnProfile(ctx, muterId);
  await visibleProfile(ctx, muterId, mutedId);
  return ctx.db.transaction().execute(async (tx) => {
    const row = await mq.upsertMute(tx, muterId, mutedId, expiresAt);
    await ctx.outbox.add(tx, {
      aggregate: 'mute',
      action: 'created',
      type: 'UserMuted',
      entityId: `${muterId}:${mutedId}`,
      data: { muter_id: muterId, muted_id: mutedId, expires_at: row.expires_at?.toISOString() ?? null },
      correlationId: meta.correlationId ?? null,
    });
    return { user_id: mutedId, expires_at: row.expires_at?.toISOString() ?? null, created_at: row.created_at.toISOString() };
  });
}

/** Ends a mute. Idempotent: unmuting someone not muted (or no longer there) is not an error. */
export async function unmute(ctx: AppContext, callerId: string, targetId: string, meta: { correlationId?: string | null } = {}): Promise<void> {
  const [muterId, mutedId] = pair(callerId, targetId, 'unmute');
  await ctx.db.transaction().execute(async (tx) => {
    const removed = await mq.deleteMute(tx, muterId, mutedId);
    // An expired mute had already stopped muting: nothing to announce.
    if (!removed || (removed.expires_at !== null && removed.expires_at.getTime() <= Date.now())) return;
    await ctx.outbox.add(tx, {
      aggregate: 'mute',
      action: 'deleted',
      type: 'UserUnmuted',
      entityId: `${muterId}:${mutedId}`,
      data: { muter_id: muterId, muted_id: mutedId },
      correlationId: meta.correlationId ?? null,
    });
  });
}
