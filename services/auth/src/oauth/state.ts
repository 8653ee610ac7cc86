import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import { randomToken, tokenHash } from '../crypto/secret-box.js';
import type { FlowChecks, OAuthProviderName } from './types.js';

/** A started sign-in, kept in Redis under the hash of its state until the callback takes it (once). */
export interface PendingFlow {
  provider: OAuthProviderName;
  checks: FlowChecks;
  /** Set when a logged-in user asked to link: the identity goes to this account and no other. */
  link?: { userId: string; sessionId: string };
  createdAt: number;
}

const STATE_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;
const stateKey = (state: string) => `auth:oauth:state:${tokenHash(state)}`;

function redisDown(err: unknown): AppError {
  return new AppError('DEPENDENCY_UNAVAILABLE', 'could not reach redis', { cause: err, details: { dependency: 'redis' } });
}

export function newState(): string {
  return randomToken(32);
}

export async function saveFlow(ctx: AppContext, state: string, flow: PendingFlow): Promise<void> {
  let stored: string | null;
  try {
    stored = await ctx.redis.set(stateKey(state), JSON.stringify(flow), 'EX', ctx.config.OAUTH_STATE_TTL_SECONDS, 'NX');
  } catch (err) {
    throw redisDown(err);
  }
  // 256 random bits never collide; if they did, refusing beats handing out someone else's state.
  if (stored !== 'OK') throw new AppError('INTERNAL', 'state collision');
}

/**
 * Takes (GETDEL: at most one caller ever gets it) the flow a state names. Unknown, reused, expired or
 * tampered states, and a state presented to another provider's callback, all get the same 400.
 */
export async function takeFlow(ctx: AppContext, state: string | null, provider: OAuthProviderName): Promise<PendingFlow> {
  const invalid = () => new AppError('BAD_REQUEST', 'this sign-in link is invalid, expired or already used; start again', { details: { field: 'state' } });
  if (!state || !STATE_PATTERN.test(state)) throw invalid();
  let raw: string | null;
  try {
    raw = await ctx.redis.getdel(stateKey(state));
  } catch (err) {
    throw redisDown(err);
  }
  if (raw === null) throw invalid();
  const flow = JSON.parse(raw) as PendingFlow;
  // Redis expires the key; the timestamp guards against a TTL that was lost or extended.
  if (flow.provider !== provider || Date.now() - flow.createdAt > ctx.config.OAUTH_STATE_TTL_SECONDS * 1000) throw invalid();
  return flow;
}

/** A sign-in that passed the provider but still needs the account's second factor. */
export interface PendingSecondFactor {
  userId: string;
  provider: OAuthProviderName;
  attempts: number;
  expiresAt: number;
}

export const SECOND_FACTOR_TTL_SECONDS = 300;
export const SECOND_FACTOR_MAX_ATTEMPTS = 5;
const ticketKey = (ticket: string) => `auth:oauth:2fa:${tokenHash(ticket)}`;

export async function saveSecondFactor(ctx: AppContext, pending: Omit<PendingSecondFactor, 'attempts' | 'expiresAt'>): Promise<{ ticket: string; expiresIn: number }> {
  const ticket = randomToken(32);
  const value: PendingSecondFactor = { ...pending, attempts: 0, expiresAt: Date.now() + SECOND_FACTOR_TTL_SECONDS * 1000 };
  try {
    await ctx.redis.set(ticketKey(ticket), JSON.stringify(value), 'EX', SECOND_FACTOR_TTL_SECONDS);
  } catch (err) {
    throw redisDown(err);
  }
  return { ticket, expiresIn: SECOND_FACTOR_TTL_SECONDS };
}

export async function takeSecondFactor(ctx: AppContext, ticket: string): Promise<PendingSecondFactor> {
  const invalid = () => new AppError('UNAUTHENTICATED', 'this sign-in has expired or was already completed; start again', { details: { field: 'ticket' } });
  if (!STATE_PATTERN.test(ticket)) throw invalid();
  let raw: string | null;
  try {
    raw = await ctx.redis.getdel(ticketKey(ticket));
  } catch (err) {
    throw redisDown(err);
  }
  if (raw === null) throw invalid();
  const pending = JSON.parse(raw) as PendingSecondFactor;
  if (Date.now() >= pending.expiresAt) throw invalid();
  return pending;
}

/** Puts a ticket back after a wrong code, unless it has used up its attempts or its time. */
export async function returnSecondFactor(ctx: AppContext, ticket: string, pending: PendingSecondFactor): Promise<boolean> {
  const attempts = pending.attempts + 1;
  const ttlMs = pending.expiresAt - Date.now();
  if (attempts >= SECOND_FACTOR_MAX_ATTEMPTS || ttlMs <= 0) return false;
  try {
    await ctx.redis.set(ticketKey(ticket), JSON.stringify({ ...pending, attempts }), 'PX', ttlMs);
    return true;
  } catch (err) {
    throw redisDown(err);
  }
}
