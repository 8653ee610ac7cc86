import { createLocalJWKSet, errors, type CryptoKey, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import type { Logger } from '../logging/logger.js';
import { TOKEN_ALGORITHM } from './claims.js';
import { Throttle } from './throttle.js';

export interface JwksCacheOptions {
  /**
   * Where auth publishes its keys. A function is called at each fetch: a process that serves the JWKS
   * itself (auth inside `nova up`) knows its HTTP port only once it listens.
   */
  url: string | URL | (() => string | URL);
  logger: Logger;
  /** Age after which the keys are refreshed in the background (default 2 min). */
  maxAgeMs?: number;
  /**
   * Minimum time between fetches triggered by an unknown `kid` or by failures (default 5 s): tokens with
   * made-up kids cannot make this process hammer the auth service.
   */
  cooldownMs?: number;
  /** Timeout of one fetch, body included (default 5 s). */
  timeoutMs?: number;
  /** Largest accepted response (default 256 KiB; a JWKS of a few RSA keys is a few KiB). */
  maxBytes?: number;
  /** Called after every fetch attempt (metrics). */
  onFetch?: (outcome: 'ok' | 'error') => void;
  now?: () => number;
}

/** The keys cannot be had: no key set was ever fetched, or a refetch for an unknown `kid` failed. */
export class JwksUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'JwksUnavailableError';
  }
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/**
 * The auth service's public keys, fetched from its JWKS and used as jose's key resolver.
 *
 * jose's `createRemoteJWKSet` is not used as-is: once its cache is older than `cacheMaxAge` it refetches
 * *inside* the verification and fails it when the fetch fails, so an auth outage longer than the cache age
 * would refuse every token everywhere (each request first waiting for the fetch timeout). Here the last
 * good key set keeps serving while a refresh runs in the background, and failures are retried no more
 * often than the cooldown. Only the first load and an unknown `kid` wait for a fetch.
 *
 * Rotation: a token whose `kid` is not in the cached set triggers one refetch (unless one happened within
 * the cooldown), so a key published after the last fetch is picked up on first use. Auth publishes a new
 * key before signing with it, which makes even that refetch rare.
 */
export class JwksCache {
  private local: LocalSet | undefined;
  private kids = '';
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private lastError: unknown;
  private inflight: Promise<void> | undefined;
  private readonly listeners: Array<() => void> = [];
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly throttle: Throttle;

  constructor(private readonly opts: JwksCacheOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? 120_000;
    this.cooldownMs = opts.cooldownMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxBytes = opts.maxBytes ?? 256 * 1024;
    this.now = opts.now ?? Date.now;
    this.throttle = new Throttle(60_000, this.now);
    for (const [name, value] of Object.entries({ maxAgeMs: this.maxAgeMs, cooldownMs: this.cooldownMs, timeoutMs: this.timeoutMs, maxBytes: this.maxBytes })) {
      if (!Number.isFinite(value) || value < 0) throw new TypeError(`JwksCache ${name} must be a non-negative number`);
    }
  }

  /** Whether a key set has been loaded. */
  get loaded(): boolean {
    return this.local !== undefined;
  }

  /** The `kid`s of the cached key set. */
  get keyIds(): string[] {
    return this.kids === '' ? [] : this.kids.split('\n');
  }

  /** `listener` runs whenever a fetch changes the set of kids (a key was added or withdrawn). */
  onKeysChanged(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The key resolver for `jwtVerify`. Throws jose's JWKSNoMatchingKey for an unknown kid, JwksUnavailableError when keys cannot be had. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const now = this.now();
    if (!this.local) {
      await this.loadForRequest(now);
    } else if (now - this.fetchedAt >= this.maxAgeMs && now - this.attemptedAt >= Math.min(this.cooldownMs, this.maxAgeMs)) {
      this.refresh().catch(() => undefined); // logged in refresh; the cached keys keep serving
    }
    try {
      return await this.local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // A kid we have not seen: perhaps a key published since the last fetch.
      if (this.inflight) await this.inflight.catch(() => undefined);
      else if (now - this.attemptedAt >= this.cooldownMs) await this.refresh().catch(() => undefined);
      // If the JWKS cannot be fetched we cannot tell a new key from a made-up one: unavailable, not invalid.
      if (this.lastError !== undefined) throw new JwksUnavailableError('the JWKS could not be fetched', this.lastError);
      return await this.local!(header, token);
    }
  };

  /** Fetches the key set now (concurrent calls share one fetch). Rejects when the fetch fails; the previous keys stay. */
  refresh(): Promise<void> {
    this.inflight ??= this.fetchOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async loadForRequest(now: number): Promise<void> {
    if (!this.inflight && this.lastError !== undefined && now - this.attemptedAt < this.cooldownMs) {
      throw new JwksUnavailableError('the JWKS could not be fetched', this.lastError);
    }
    try {
      await this.refresh();
    } catch (err) {
      throw new JwksUnavailableError('the JWKS could not be fetched', err);
    }
  }

  private async fetchOnce(): Promise<void> {
    this.attemptedAt = this.now();
    let href = '';
    try {
      const url = new URL(typeof this.opts.url === 'function' ? this.opts.url() : this.opts.url);
      href = url.href;
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`unsupported JWKS URL scheme ${url.protocol}`);
      const json = await this.download(url);
      const set = createLocalJWKSet(json as JSONWebKeySet);
      const usable = (json as JSONWebKeySet).keys.filter((k) => k.kty === 'RSA' && typeof k.kid === 'string' && k.kid !== '' && (k.alg === undefined || k.alg === TOKEN_ALGORITHM) && (k.use === undefined || k.use === 'sig'));
      if (usable.length === 0) throw new Error(`the JWKS holds no ${TOKEN_ALGORITHM} signing key with a kid`);
      const kids = usable.map((k) => k.kid as string).sort().join('\n');
      const changed = kids !== this.kids;
      this.local = set;
      this.kids = kids;
      this.fetchedAt = this.now();
      this.lastError = undefined;
      this.opts.onFetch?.('ok');
      if (changed) {
        this.opts.logger.info({ jwks: href, kids: usable.map((k) => k.kid) }, 'auth signing keys loaded');
        for (const listener of this.listeners) listener();
      }
    } catch (err) {
      this.lastError = err;
      this.opts.onFetch?.('error');
      if (this.throttle.allow('fetch')) {
        this.opts.logger.warn(
          { jwks: href, err: { message: (err as Error).message, cause: ((err as Error).cause as Error | undefined)?.message }, keys_cached: this.local !== undefined, suppressed: this.throttle.suppressed('fetch') },
          this.local ? 'JWKS refresh failed; verifying with the cached keys' : 'JWKS fetch failed; tokens cannot be verified yet',
        );
      }
      throw err;
    }
  }

  private async download(url: URL): Promise<unknown> {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`the JWKS endpoint answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > this.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`the JWKS response is too large (${declared} bytes)`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > this.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new Error(`the JWKS response is larger than ${this.maxBytes} bytes`);
        }
        chunks.push(value);
      }
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      throw new Error('the JWKS response is not JSON', { cause: err });
    }
  }
}
