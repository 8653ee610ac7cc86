import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { AppError } from '../errors/app-error.js';
import { isUuid } from '../ids/index.js';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import { isRole, TOKEN_ALGORITHM, TOKEN_CLOCK_TOLERANCE_SECONDS, type AuthIdentity, type Role } from './claims.js';
import { JwksCache, JwksUnavailableError } from './jwks.js';
import { RevocationList } from './revocations.js';
import { Throttle } from './throttle.js';

/** The one message a caller sees for any refused token; the reason goes to the logs only. */
export const INVALID_TOKEN_MESSAGE = 'invalid or expired token';

/** Why a token was refused (logs and metrics; never sent to the caller). */
export type TokenRejectionReason =
  | 'malformed'
  | 'algorithm'
  | 'missing_kid'
  | 'unknown_kid'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'issuer'
  | 'audience'
  | 'claims'
  | 'token_type'
  | 'revoked';

/** Routine refusals (a client holding an old token); the others look like forgeries or bugs. */
const ROUTINE: ReadonlySet<TokenRejectionReason> = new Set(['expired', 'revoked', 'not_yet_valid']);

/**
 * A refused token: UNAUTHENTICATED with the generic public message. `reason` and `detail` are for logs and
 * tests; the HTTP and gRPC error mappers expose neither (they send `message` and `details` only).
 */
export class InvalidTokenError extends AppError {
  /** What exactly was wrong (may quote attacker-controlled header values, so it is capped). */
  readonly detail: string;

  constructor(
    readonly reason: TokenRejectionReason,
    detail: string,
  ) {
    super('UNAUTHENTICATED', INVALID_TOKEN_MESSAGE);
    this.name = 'InvalidTokenError';
    this.detail = detail.length > 200 ? `${detail.slice(0, 200)}…` : detail;
  }
}

/** What the HTTP hook and the gRPC helpers need: anything that turns an access token into an identity. */
export interface AccessTokenVerifier {
  /**
   * Resolves the identity of a valid access token; throws AppError UNAUTHENTICATED (an InvalidTokenError)
   * for any invalid one, DEPENDENCY_UNAVAILABLE when auth's keys cannot be fetched.
   */
  verify(token: string, opts?: VerifyOptions): Promise<AuthIdentity>;
  /**
   * Whether a session has been revoked since: for long-lived connections (WebSockets) that verified a token
   * once and must notice a logout, without re-verifying (or counting) the token again.
   */
  isSessionRevoked?(sessionId: string): boolean;
}

/** Where a refusal is logged (a request-scoped logger carries the request id). */
export type RefusalLogger = Pick<Logger, 'debug' | 'warn'>;

export interface VerifyOptions {
  logger?: RefusalLogger;
}

export interface TokenVerifierOptions {
  /** Auth's JWKS (`…/.well-known/jwks.json`); a function is resolved at each fetch. */
  jwksUrl: string | URL | (() => string | URL);
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (the token may list several audiences; this one must be among them). */
  audience: string;
  /** The process's Redis client (its keyPrefix names the revocation key and channel). */
  redis: Redis;
  logger: Logger;
  /** Registers `auth_token_verifications_total{outcome}`, `auth_jwks_fetches_total{outcome}`, `auth_revocation_syncs_total{outcome}` and `auth_revoked_sessions` on its registry. */
  metrics?: PlatformMetrics;
  /** Background JWKS refresh age (default 120 000). */
  jwksMaxAgeMs?: number;
  /** Minimum time between JWKS fetches for unknown kids or after failures (default 5 000). */
  jwksCooldownMs?: number;
  /** JWKS fetch timeout (default 5 000). */
  jwksTimeoutMs?: number;
  /** Revocation resync period (default 30 000). */
  revocationResyncMs?: number;
  /**
   * Verified tokens remembered (by their exact text) so a token presented again skips the RSA check;
   * expiry and revocation are still checked on every use, and the memory is dropped when the key set
   * changes. Default 10 000 tokens; 0 disables.
   */
  verifiedCacheSize?: number;
  /** Longest accepted `exp - iat` in seconds (default 86 400: the longest access TTL auth allows). */
  maxLifetimeSeconds?: number;
  /** Clock for tests (epoch ms). */
  now?: () => number;
}

const REQUIRED_CLAIMS = ['sub', 'sid', 'jti', 'exp', 'nbf', 'iat', 'token_type', 'role'];
const MAX_TOKEN_LENGTH = 8_192;
const MAX_CLAIM_LENGTH = 256;

interface Verified {
  identity: Omit<AuthIdentity, 'expiresAt'>;
  exp: number;
}

/**
 * Verifies access tokens in-process: RS256 against the keys auth publishes (JWKS, cached), `iss`, `aud`,
 * `exp`/`nbf`/`iat` with 30 s leeway, the claims of the contract, `token_type === "access"`, and the
 * session not revoked (an in-memory list kept current by Redis pub/sub). In the common case a verification
 * touches neither the network nor Redis.
 *
 *   const verifier = new TokenVerifier({ jwksUrl, issuer, audience, redis, logger, metrics });
 *   await verifier.start();   // loads revocations (Redis must be reachable); JWKS is fetched on first use
 *   const identity = await verifier.verify(token);
 *   await verifier.stop();
 */
export class TokenVerifier implements AccessTokenVerifier {
  readonly jwks: JwksCache;
  readonly revocations: RevocationList;
  private readonly opts: TokenVerifierOptions;
  private readonly now: () => number;
  private readonly verified = new Map<string, Verified>();
  private readonly cacheSize: number;
  private readonly maxLifetime: number;
  private readonly throttle: Throttle;
  private readonly outcomes: Counter<'outcome'> | undefined;
  private started = false;
  /** Bumped when the key set changes, so a verification that began with the old keys is not remembered. */
  private keyGeneration = 0;

  constructor(opts: TokenVerifierOptions) {
    if (!opts.issuer) throw new TypeError('TokenVerifier: issuer is required');
    if (!opts.audience) throw new TypeError('TokenVerifier: audience is required');
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.cacheSize = opts.verifiedCacheSize ?? 10_000;
    this.maxLifetime = opts.maxLifetimeSeconds ?? 86_400;
    this.throttle = new Throttle(10_000, this.now);
    const m = opts.metrics ? authMetrics(opts.metrics.registry) : undefined;
    this.outcomes = m?.verifications;
    this.jwks = new JwksCache({
      url: opts.jwksUrl,
      logger: opts.logger,
      maxAgeMs: opts.jwksMaxAgeMs,
      cooldownMs: opts.jwksCooldownMs,
      timeoutMs: opts.jwksTimeoutMs,
      now: this.now,
      onFetch: m ? (outcome) => m.jwksFetches.inc({ outcome }) : undefined,
    });
    this.jwks.onKeysChanged(() => {
      this.keyGeneration += 1;
      this.verified.clear();
    });
    this.revocations = new RevocationList({
      redis: opts.redis,
      logger: opts.logger,
      resyncIntervalMs: opts.revocationResyncMs,
      now: this.now,
      onResync: m
        ? (outcome, size) => {
            m.revocationSyncs.inc({ outcome });
            m.revokedSessions.set(size);
          }
        : undefined,
    });
  }

  /** Subscribes to revocations and loads them. Rejects when Redis is unreachable. */
  async start(): Promise<void> {
    await this.revocations.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    this.verified.clear();
    await this.revocations.stop();
  }

  async verify(token: string, opts: VerifyOptions = {}): Promise<AuthIdentity> {
    // Without the revocation list a revoked token would pass: refuse to verify before start().
    if (!this.started) throw new AppError('INTERNAL', 'the token verifier is not started');
    try {
      const identity = await this.check(token);
      this.outcomes?.inc({ outcome: 'accepted' });
      return identity;
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        this.outcomes?.inc({ outcome: err.reason });
        this.logRefusal(err, opts.logger ?? this.opts.logger);
      } else if (err instanceof AppError && err.code === 'DEPENDENCY_UNAVAILABLE') {
        this.outcomes?.inc({ outcome: 'unavailable' });
      }
      throw err;
    }
  }

  isSessionRevoked(sessionId: string): boolean {
    return this.revocations.isRevoked(sessionId, this.now());
  }

  private async check(token: string): Promise<AuthIdentity> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('malformed', 'empty or oversized token');
    const now = this.now();
    const nowSec = now / 1_000;

    const remembered = this.verified.get(token);
    if (remembered) {
      if (remembered.exp <= nowSec - TOKEN_CLOCK_TOLERANCE_SECONDS) {
        this.verified.delete(token);
        throw new InvalidTokenError('expired', 'token expired');
      }
      return this.admit(remembered, now);
    }

    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw new InvalidTokenError('malformed', (err as Error).message);
    }
    // Checked before any key lookup, so junk never makes us fetch the JWKS. jwtVerify pins the alg again.
    if (header.alg !== TOKEN_ALGORITHM) throw new InvalidTokenError('algorithm', `alg ${JSON.stringify(header.alg)} is not ${TOKEN_ALGORITHM}`);
    if (typeof header.kid !== 'string' || header.kid === '' || header.kid.length > MAX_CLAIM_LENGTH) throw new InvalidTokenError('missing_kid', 'no kid in the header');

    const generation = this.keyGeneration;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks.getKey, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: TOKEN_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: REQUIRED_CLAIMS,
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw classify(err, header.kid);
    }

    const { sub, sid, jti, iat, exp, token_type: tokenType, role } = payload as JWTPayload & { sid?: unknown; token_type?: unknown; role?: unknown };
    if (typeof sub !== 'string' || !isUuid(sub)) throw new InvalidTokenError('claims', 'sub is not a UUID');
    if (typeof sid !== 'string' || !isUuid(sid)) throw new InvalidTokenError('claims', 'sid is not a UUID');
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_CLAIM_LENGTH) throw new InvalidTokenError('claims', 'jti is not a non-empty string');
    if (tokenType !== 'access') throw new InvalidTokenError('token_type', `token_type ${JSON.stringify(tokenType)} is not "access"`);
    if (!isRole(role)) throw new InvalidTokenError('claims', `role ${JSON.stringify(role)} is unknown`);
    // jose checks that exp, nbf and iat are numbers, exp and nbf against the clock; iat only with maxTokenAge.
    if (iat! > nowSec + TOKEN_CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError('issued_in_future', 'iat is in the future');
    if (exp! - iat! > this.maxLifetime) throw new InvalidTokenError('claims', `lifetime ${exp! - iat!} s exceeds ${this.maxLifetime} s`);

    const entry: Verified = { identity: { userId: sub, sessionId: sid, role: role as Role, tokenId: jti }, exp: exp! };
    const identity = this.admit(entry, now);
    if (generation === this.keyGeneration) this.remember(token, entry);
    return identity;
  }

  private admit(entry: Verified, now: number): AuthIdentity {
    if (this.revocations.isRevoked(entry.identity.sessionId, now)) throw new InvalidTokenError('revoked', 'token has been revoked');
    return { ...entry.identity, expiresAt: new Date(entry.exp * 1_000) };
  }

  private remember(token: string, entry: Verified): void {
    if (this.cacheSize <= 0) return;
    if (this.verified.size >= this.cacheSize) {
      // Oldest first (insertion order); expired ones go anyway when next presented.
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, entry);
  }

  private logRefusal(err: InvalidTokenError, logger: RefusalLogger): void {
    const fields = { reason: err.reason, detail: err.detail };
    if (ROUTINE.has(err.reason)) {
      logger.debug(fields, 'access token refused');
    } else if (this.throttle.allow(err.reason)) {
      logger.warn({ ...fields, suppressed: this.throttle.suppressed(err.reason) }, 'access token refused');
    }
  }
}

/** jose's failure → our refusal (or a 503 when the keys are unavailable). */
function classify(err: unknown, kid: string): Error {
  if (err instanceof JwksUnavailableError) {
    return new AppError('DEPENDENCY_UNAVAILABLE', 'the auth signing keys are unavailable', { cause: err, details: { dependency: 'auth' } });
  }
  if (err instanceof errors.JWTExpired) return new InvalidTokenError('expired', err.message);
  if (err instanceof errors.JWTClaimValidationFailed) {
    // reason: 'missing' or 'invalid' (wrong type) is a malformed claim set; 'check_failed' a value refused.
    if (err.reason !== 'check_failed') return new InvalidTokenError('claims', err.message);
    switch (err.claim) {
      case 'nbf':
        return new InvalidTokenError('not_yet_valid', err.message);
      case 'iss':
        return new InvalidTokenError('issuer', err.message);
      case 'aud':
        return new InvalidTokenError('audience', err.message);
      default:
        return new InvalidTokenError('claims', err.message);
    }
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return new InvalidTokenError('unknown_kid', `kid ${JSON.stringify(kid)}: ${err.message}`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new InvalidTokenError('signature', err.message);
  if (err instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError('algorithm', err.message);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new InvalidTokenError('malformed', err.message);
  if (err instanceof errors.JWKInvalid || err instanceof errors.JWKSInvalid || err instanceof errors.JOSENotSupported) {
    // A published key jose cannot use: auth's problem, not the token's.
    return new AppError('DEPENDENCY_UNAVAILABLE', 'the auth signing keys are unusable', { cause: err, details: { dependency: 'auth' } });
  }
  return err instanceof Error ? err : new Error(String(err));
}

interface AuthMetrics {
  verifications: Counter<'outcome'>;
  jwksFetches: Counter<'outcome'>;
  revocationSyncs: Counter<'outcome'>;
  revokedSessions: Gauge;
}

/** The verifier's metrics on `registry`, created once per registry (several verifiers may share it). */
function authMetrics(registry: Registry): AuthMetrics {
  const counter = (name: string, help: string): Counter<'outcome'> =>
    (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ?? new Counter({ name, help, labelNames: ['outcome'], registers: [registry] });
  return {
    verifications: counter('auth_token_verifications_total', 'Access token verifications by outcome (accepted or the refusal reason)'),
    jwksFetches: counter('auth_jwks_fetches_total', 'Fetches of the auth JWKS by outcome'),
    revocationSyncs: counter('auth_revocation_syncs_total', 'Reads of the revoked-sessions set by outcome'),
    revokedSessions:
      (registry.getSingleMetric('auth_revoked_sessions') as Gauge | undefined) ??
      new Gauge({ name: 'auth_revoked_sessions', help: 'Revoked sessions held in memory after the last resync', registers: [registry] }),
  };
}
