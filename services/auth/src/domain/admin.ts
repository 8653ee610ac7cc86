import { AppError, isRole, isUuid, ROLES, type Role, type ServiceDeps } from '@nova/platform';
import { createContext, type AppContext, type AuthConfig } from '../context.js';
import { activeSessions } from '../db/queries/sessions.js';
import * as uq from '../db/queries/users.js';
import type { Mailer } from '../mail/mailer.js';
import { setRole, type PublicUser } from './accounts.js';

// Operational tasks for the `nova` CLI, run through the platform's runTask (the service's deps without
// serving): `runTask(authService, env, (deps) => rotateKeys(deps, activatesAt))`.

/**
 * How long a new key is published before it signs, by default: the JWKS this service serves is cached
 * 30 s in each replica (SigningKeys), 60 s by HTTP caches (Cache-Control) and refreshed by verifiers every
 * 2 min; a key published this long before its first token is known everywhere when that token arrives.
 * (Verifiers also refetch on an unknown kid, so this is belt and braces, not the only safeguard.)
 */
export const DEFAULT_KEY_ACTIVATION_DELAY_SECONDS = 300;

/**
 * A superseded key stays usable for refresh tokens this long after its successor took over (it signed
 * until then, plus the replicas' key cache and the verifiers' leeway); after that it is retired.
 */
const RETIRE_MARGIN_MS = 120_000;

export type KeyStatus = 'pending' | 'active' | 'previous' | 'superseded' | 'retired';

export interface KeyInfo {
  kid: string;
  status: KeyStatus;
  created_at: Date;
  activates_at: Date;
  retired_at: Date | null;
}

/** What each status means, for the CLI's help and output. */
export const KEY_STATUS_MEANING: Readonly<Record<KeyStatus, string>> = {
  pending: 'published in the JWKS, signs from its activation time',
  active: 'signs new tokens',
  previous: 'published in the JWKS: its tokens stay valid until they expire',
  superseded: 'no longer published; still verifies the refresh tokens it signed until they expire',
  retired: 'verifies nothing',
};

/** Tasks send no mail: a task context's mailer refuses (and needs no SMTP settings). */
const NO_MAIL: Mailer = {
  send: async () => {
    throw new AppError('INTERNAL', 'operational tasks do not send mail');
  },
  close: () => undefined,
};

function taskContext(deps: ServiceDeps<AuthConfig>): AppContext {
  return createContext(deps, { mailer: NO_MAIL });
}

/**
 * How long after a key stops signing its access tokens may still be accepted, beyond their lifetime: the
 * replicas' 30 s key cache (they sign with it a little longer) and the verifiers' 30 s leeway, plus margin.
 */
const ACCESS_TOKEN_SLACK_SECONDS = 90;

export interface RotateOptions {
  /** When the new key starts signing. Default: in DEFAULT_KEY_ACTIVATION_DELAY_SECONDS, or later when that would log people out (see below). */
  activatesAt?: Date;
  /** Rotate even when access tokens of an unpublished key would be refused (a compromised key). */
  force?: boolean;
}

export interface RotateResult {
  kid: string;
  activatesAt: Date;
  /** The default activation was pushed later so that no valid access token loses its key. */
  delayedForSafety: boolean;
  /** Keys retired by this rotation (all their refresh tokens have expired). */
  retired: string[];
}

/**
 * `nova keys rotate`: creates a signing key that signs from its activation time on (published in the JWKS
 * from now), and retires keys whose refresh tokens have all expired. Nobody is logged out: tokens of the
 * previous key stay valid until they expire.
 *
 * The JWKS publishes the two newest activated keys (and pending ones), so a key drops out when the second
 * key after it activates. Rotating twice within an access-token lifetime would drop a key whose access
 * tokens are still valid: the default activation is then pushed to the earliest safe moment, and an
 * explicit one is refused (PRECONDITION_FAILED) unless `force`.
 */
export async function rotateKeys(deps: ServiceDeps<AuthConfig>, opts: RotateOptions = {}): Promise<RotateResult> {
  const ctx = taskContext(deps);
  const now = Date.now();
  const live = (await ctx.db.selectFrom('signing_keys').select(['kid', 'activates_at']).where('retired_at', 'is', null).execute()).map((k) => ({ kid: k.kid, at: k.activates_at.getTime() }));
  const gapMs = (ctx.config.AUTH_ACCESS_TTL_SECONDS + ACCESS_TOKEN_SLACK_SECONDS) * 1000;

  let at: number;
  let delayedForSafety = false;
  if (opts.activatesAt) {
    at = opts.activatesAt.getTime();
    if (Number.isNaN(at)) throw new AppError('VALIDATION_FAILED', 'invalid activation time');
    const problem = opts.force ? undefined : unsafeActivation(live, at, gapMs);
    if (problem) {
      throw new AppError(
        'PRECONDITION_FAILED',
        `activating a new key at ${new Date(at).toISOString()} would withdraw key ${problem.withdrawn} from the JWKS while access tokens it signed may still be valid (until ${new Date(problem.safeFrom).toISOString()}). ` +
          'Rotate without a time (it picks the earliest safe one), or with --force to rotate anyway (those tokens are then refused and their clients must refresh).',
        { details: { withdrawn: problem.withdrawn, safe_from: new Date(problem.safeFrom).toISOString() } },
      );
    }
  } else {
    at = now + DEFAULT_KEY_ACTIVATION_DELAY_SECONDS * 1000;
    // Appended after every existing key: it withdraws the key before the newest one when it activates.
    const sorted = [...live].sort((a, b) => a.at - b.at);
    if (sorted.length >= 2 && sorted.at(-1)!.at + gapMs > at) {
      at = sorted.at(-1)!.at + gapMs;
      delayedForSafety = true;
    }
  }

  const kid = await ctx.keys.rotate(new Date(at));
  const retired = await retireExpiredKeys(ctx);
  return { kid, activatesAt: new Date(at), delayedForSafety, retired };
}

/**
 * Whether a key activating at `at` would withdraw (from the JWKS) a key whose access tokens are still valid.
 * Keys ordered by activation: `a` is withdrawn when `c` activates, and signed until `b` activated, so its
 * tokens need `c - b >= gap`. Only the triples the new key takes part in can be made unsafe by it.
 */
function unsafeActivation(live: Array<{ kid: string; at: number }>, at: number, gapMs: number): { withdrawn: string; safeFrom: number } | undefined {
  const keys = [...live, { kid: '(new)', at }].sort((x, y) => x.at - y.at || (x.kid === '(new)' ? 1 : y.kid === '(new)' ? -1 : 0));
  const i = keys.findIndex((k) => k.kid === '(new)');
  for (const start of [i - 2, i - 1, i]) {
    const [a, b, c] = [keys[start], keys[start + 1], keys[start + 2]];
    if (!a || !b || !c) continue;
    if (c.at - b.at < gapMs) return { withdrawn: a.kid === '(new)' ? 'the new key' : a.kid, safeFrom: b.at + gapMs };
  }
  return undefined;
}

/** `nova keys list`: every signing key, newest activation first, with its status. */
export async function listKeys(deps: ServiceDeps<AuthConfig>, now = new Date()): Promise<KeyInfo[]> {
  const ctx = taskContext(deps);
  const rows = await ctx.db.selectFrom('signing_keys').select(['kid', 'created_at', 'activates_at', 'retired_at']).orderBy('activates_at', 'desc').orderBy('created_at', 'desc').execute();
  let activated = 0;
  return rows.map((r) => {
    let status: KeyStatus;
    if (r.retired_at !== null) status = 'retired';
    else if (r.activates_at > now) status = 'pending';
    else status = (['active', 'previous'] as const)[activated++] ?? 'superseded';
    return { kid: r.kid, status, created_at: r.created_at, activates_at: r.activates_at, retired_at: r.retired_at };
  });
}

/**
 * Retires superseded keys (neither active nor previous) whose successor took over longer ago than the
 * refresh token lifetime: every token they signed has expired, so they need not verify anything any more.
 */
async function retireExpiredKeys(ctx: AppContext, now = Date.now()): Promise<string[]> {
  const live = await ctx.db.selectFrom('signing_keys').select(['kid', 'activates_at']).where('retired_at', 'is', null).where('activates_at', '<=', new Date(now)).orderBy('activates_at', 'desc').execute();
  const horizon = ctx.config.AUTH_REFRESH_TTL_SECONDS * 1000 + RETIRE_MARGIN_MS;
  const expired = live.filter((k, i) => i >= 2 && now - live[i - 1]!.activates_at.getTime() > horizon).map((k) => k.kid);
  if (expired.length > 0) {
    await ctx.db.updateTable('signing_keys').set({ retired_at: new Date(now) }).where('kid', 'in', expired).where('retired_at', 'is', null).execute();
    ctx.logger.info({ kids: expired }, 'signing keys retired');
  }
  return expired;
}

/**
 * `nova users role`: gives the account named by id, username or email the role `role`. Emits
 * UserRoleChanged and ends the account's sessions (tokens carry the role), unless it already had it.
 */
export async function grantRole(deps: ServiceDeps<AuthConfig>, who: string, role: string): Promise<{ user: PublicUser; from: Role; changed: boolean; sessionsEnded: number }> {
  if (!isRole(role)) throw new AppError('VALIDATION_FAILED', `role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const ctx = taskContext(deps);
  const key = who.trim();
  const found = isUuid(key) ? await uq.findById(ctx.db, key) : await uq.findByIdentifier(ctx.db, key);
  if (!found) throw new AppError('NOT_FOUND', `no account with the id, username or email "${key}"`);
  const sessions = found.role === role ? 0 : (await activeSessions(ctx.db, found.id)).length;
  // Changed by an operator, not by an account: the event's changed_by is null.
  const user = await setRole(ctx, found.id, role, null);
  return { user, from: found.role, changed: found.role !== role, sessionsEnded: sessions };
}
