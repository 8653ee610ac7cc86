import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { base64url, exportSPKI, generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError, publicDetails, publicMessage } from '../errors/app-error.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics } from '../metrics/metrics.js';
import { connectRedis, createRedis } from '../redis/client.js';
import { REVOKED_SESSIONS_KEY, TOKEN_CLOCK_TOLERANCE_SECONDS } from './claims.js';
import { revocationsChannel, revokeSessions } from './revocations.js';
import { TestTokenIssuer } from '@nova/testing';
import { INVALID_TOKEN_MESSAGE, InvalidTokenError, TokenVerifier, type TokenRejectionReason, type TokenVerifierOptions } from './verifier.js';

// Verification against a local JWKS server and the real Redis, under this file's own key prefix.
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `t:authv:${randomBytes(5).toString('hex')}:`;
const logger = createLogger({ level: process.env.AUTH_TEST_LOG ?? 'silent' });

let issuer: TestTokenIssuer;
let raw: Redis; // unprefixed: inspects keys and runs MONITOR
let writer: Redis; // the auth service's side: revokeSessions
const verifiers: TokenVerifier[] = [];
const clients: Redis[] = [];

function client(url = REDIS_URL): Redis {
  const c = createRedis({ url, keyPrefix: PREFIX, commandTimeoutMs: 2_000, logger });
  clients.push(c);
  return c;
}

async function startVerifier(overrides: Partial<TokenVerifierOptions> = {}, redisUrl = REDIS_URL): Promise<TokenVerifier> {
  const redis = overrides.redis ?? client(redisUrl);
  await connectRedis(redis);
  const verifier = new TokenVerifier({ jwksUrl: issuer.jwksUrl, issuer: issuer.issuer, audience: issuer.audience, redis, logger, ...overrides });
  verifiers.push(verifier);
  await verifier.start();
  return verifier;
}

/** The refusal of `p`, checked to be the generic public 401. */
async function refusal(p: Promise<unknown>): Promise<InvalidTokenError> {
  const err = await p.then(
    () => {
      throw new Error('the token was accepted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidTokenError);
  const e = err as InvalidTokenError;
  expect(e.code).toBe('UNAUTHENTICATED');
  expect(e.httpStatus).toBe(401);
  expect(publicMessage(e)).toBe(INVALID_TOKEN_MESSAGE);
  expect(publicDetails(e)).toBeUndefined();
  return e;
}

async function reason(p: Promise<unknown>): Promise<TokenRejectionReason> {
  return (await refusal(p)).reason;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  issuer = await TestTokenIssuer.start();
  raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
  writer = client();
  await connectRedis(writer);
});

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.stop()));
});

afterAll(async () => {
  await issuer?.close();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
  raw.disconnect();
  for (const c of clients) c.disconnect();
});

describe('signature, algorithm and key', () => {
  it('accepts a valid access token and returns the identity from its claims', async () => {
    const v = await startVerifier();
    const sub = randomUUID();
    const sid = randomUUID();
    const jti = randomUUID();
    const exp = now() + 600;
    const identity = await v.verify(await issuer.sign({ sub, sid, jti, exp, role: 'moderator' }));
    expect(identity).toEqual({ userId: sub, sessionId: sid, role: 'moderator', tokenId: jti, expiresAt: new Date(exp * 1000) });
    // Presented again (from the verified-token memory): the same answer.
    expect(await v.verify(await issuer.sign({ sub, sid, jti, exp, role: 'moderator' }))).toEqual(identity);
  });

  it('refuses alg "none", with or without a kid, before looking at any key', async () => {
    const v = await startVerifier();
    await v.verify(await issuer.sign()); // keys loaded
    const fetches = issuer.fetches;
    const claims = issuer.claims();
    const unsecured = new UnsecuredJWT(claims).encode();
    expect(await reason(v.verify(unsecured))).toBe('algorithm');
    const kid = issuer.jwks().keys[0]!.kid!;
    const withKid = `${base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    expect(await reason(v.verify(withKid))).toBe('algorithm');
    const noneCased = `${base64url.encode(JSON.stringify({ alg: 'None', kid }))}.${base64url.encode(JSON.stringify(claims))}.`;
    expect(await reason(v.verify(noneCased))).toBe('algorithm');
    expect(issuer.fetches).toBe(fetches);
  });

  it('refuses HS256 tokens signed with the public key (PEM, JWK JSON, modulus) as the HMAC secret', async () => {
    const v = await startVerifier();
    const jwk = issuer.jwks().keys[0]!;
    const pem = await exportSPKI((await importJWK(jwk, 'RS256', { extractable: true })) as CryptoKey);
    const secrets = [new TextEncoder().encode(pem), new TextEncoder().encode(pem.trim()), new TextEncoder().encode(JSON.stringify(jwk)), base64url.decode(jwk.n!)];
    for (const secret of secrets) {
      const forged = await new SignJWT(issuer.claims({ role: 'admin' })).setProtectedHeader({ alg: 'HS256', kid: jwk.kid!, typ: 'JWT' }).sign(secret);
      expect(await reason(v.verify(forged))).toBe('algorithm');
    }
  });

  it('refuses other RSA algorithms (PS256, RS512) even under a published kid', async () => {
    const v = await startVerifier();
    for (const alg of ['PS256', 'RS512']) {
      const { privateKey } = await generateKeyPair(alg, { modulusLength: 2048 });
      const token = await new SignJWT(issuer.claims()).setProtectedHeader({ alg, kid: issuer.jwks().keys[0]!.kid! }).sign(privateKey);
      expect(await reason(v.verify(token))).toBe('algorithm');
    }
  });

  it('refuses a token without a kid', async () => {
    const v = await startVerifier();
    expect(await reason(v.verify(await issuer.sign({}, { header: { kid: undefined } })))).toBe('missing_kid');
    expect(await reason(v.verify(await issuer.sign({}, { header: { kid: '' } })))).toBe('missing_kid');
  });

  it('refuses an unknown kid after refetching the JWKS once, and not again within the cooldown', async () => {
    const v = await startVerifier({ jwksCooldownMs: 200 });
    await v.verify(await issuer.sign());
    const stranger = await issuer.addKey({ publish: false, sign: false });
    await sleep(250); // the first fetch is older than the cooldown
    const before = issuer.fetches;
    expect(await reason(v.verify(await issuer.sign({}, { key: stranger })))).toBe('unknown_kid');
    expect(issuer.fetches).toBe(before + 1);
    // More made-up kids within the cooldown cost no fetch.
    for (let i = 0; i < 5; i++) {
      expect(await reason(v.verify(await issuer.sign({}, { key: stranger, header: { kid: randomUUID() } })))).toBe('unknown_kid');
    }
    expect(issuer.fetches).toBe(before + 1);
  });

  it('refuses a bad signature: another key under a published kid, or a tampered payload', async () => {
    const v = await startVerifier();
    const stranger = await issuer.addKey({ publish: false, sign: false });
    const publishedKid = issuer.jwks().keys[0]!.kid!;
    expect(await reason(v.verify(await issuer.sign({}, { key: stranger, header: { kid: publishedKid } })))).toBe('signature');

    const token = await issuer.sign({ role: 'user' });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!))) as Record<string, unknown>;
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, role: 'admin' }))}.${s}`;
    expect(await reason(v.verify(tampered))).toBe('signature');
    // The genuine token still verifies (the verified-token memory is keyed by the exact text).
    expect((await v.verify(token)).role).toBe('user');
  });

  it('refuses malformed input', async () => {
    const v = await startVerifier();
    const valid = await issuer.sign();
    for (const junk of ['', 'abc', 'a.b.c', '..', `${valid}.x`, valid.split('.').slice(0, 2).join('.'), 'x'.repeat(10_000), `${valid.slice(0, -3)}!!!`]) {
      expect(['malformed', 'signature']).toContain(await reason(v.verify(junk)));
    }
    expect(await reason(v.verify(42 as unknown as string))).toBe('malformed');
  });

  it('rotation: a key published later is picked up after the cooldown; old and new tokens verify while both are published', async () => {
    const auth = await TestTokenIssuer.start(); // its own keys: this test rotates them
    try {
      const v = await startVerifier({ jwksUrl: auth.jwksUrl, jwksCooldownMs: 300 });
      const oldKid = auth.jwks().keys[0]!.kid!;
      const oldToken = await auth.sign();
      await v.verify(oldToken);

      // A new key signs before it is published (the worst case): refused after one refetch.
      const next = await auth.addKey({ publish: false });
      const newToken = await auth.sign();
      await sleep(350);
      let fetches = auth.fetches;
      expect(await reason(v.verify(newToken))).toBe('unknown_kid');
      expect(auth.fetches).toBe(fetches + 1);

      // Published now, but the cooldown is running: still refused, and no fetch.
      auth.publish(next.kid);
      fetches = auth.fetches;
      expect(await reason(v.verify(newToken))).toBe('unknown_kid');
      expect(auth.fetches).toBe(fetches);

      // After the cooldown the new kid triggers a refetch and verifies; the old key's tokens still do.
      await sleep(350);
      expect((await v.verify(newToken)).userId).toBeTruthy();
      expect(auth.fetches).toBe(fetches + 1);
      expect((await v.verify(oldToken)).userId).toBeTruthy();
      expect((await v.verify(await auth.sign({}, { key: undefined }))).userId).toBeTruthy();
      expect(v.jwks.keyIds.sort()).toEqual([oldKid, next.kid].sort());

      // The old key withdrawn: its tokens stop verifying once the key set is refreshed, remembered or not.
      auth.withdraw(oldKid);
      await v.jwks.refresh();
      expect(await reason(v.verify(oldToken))).toBe('unknown_kid');
      expect((await v.verify(newToken)).userId).toBeTruthy();
    } finally {
      await auth.close();
    }
  });
});

describe('claims', () => {
  it('applies 30 s of leeway to exp: expired 40 s ago is refused, 20 s ago accepted', async () => {
    const v = await startVerifier();
    expect(await reason(v.verify(await issuer.sign({ iat: now() - 900, nbf: now() - 900, exp: now() - 40 })))).toBe('expired');
    await expect(v.verify(await issuer.sign({ iat: now() - 900, nbf: now() - 900, exp: now() - 20 }))).resolves.toBeTruthy();
  });

  it('applies 30 s of leeway to nbf and iat', async () => {
    const v = await startVerifier();
    expect(await reason(v.verify(await issuer.sign({ nbf: now() + 60 })))).toBe('not_yet_valid');
    await expect(v.verify(await issuer.sign({ nbf: now() + 20 }))).resolves.toBeTruthy();
    expect(await reason(v.verify(await issuer.sign({ iat: now() + 60 })))).toBe('issued_in_future');
    await expect(v.verify(await issuer.sign({ iat: now() + 20 }))).resolves.toBeTruthy();
  });

  it('refuses a wrong issuer or audience; accepts an audience list that includes ours', async () => {
    const v = await startVerifier();
    expect(await reason(v.verify(await issuer.sign({ iss: 'https://evil.example' })))).toBe('issuer');
    expect(await reason(v.verify(await issuer.sign({ aud: 'another-api' })))).toBe('audience');
    expect(await reason(v.verify(await issuer.sign({ aud: ['another-api'] as unknown as string })))).toBe('audience');
    await expect(v.verify(await issuer.sign({ aud: ['another-api', issuer.audience] as unknown as string }))).resolves.toBeTruthy();
  });

  it('refuses a refresh token presented as an access token', async () => {
    const v = await startVerifier();
    expect(await reason(v.verify(await issuer.sign({ token_type: 'refresh', exp: now() + 30 * 86_400 - 1, iat: now() })))).toBe('token_type');
    expect(await reason(v.verify(await issuer.sign({ token_type: 'refresh' })))).toBe('token_type');
    expect(await reason(v.verify(await issuer.sign({ token_type: 'id' as 'access' })))).toBe('token_type');
  });

  it('requires every claim of the contract, with the right shapes', async () => {
    const v = await startVerifier();
    for (const claim of ['sub', 'sid', 'jti', 'exp', 'nbf', 'iat', 'token_type', 'role'] as const) {
      expect(await reason(v.verify(await issuer.sign({ [claim]: undefined })))).toBe('claims');
    }
    expect(await reason(v.verify(await issuer.sign({ iss: undefined })))).toBe('claims');
    expect(await reason(v.verify(await issuer.sign({ aud: undefined })))).toBe('claims');
    expect(await reason(v.verify(await issuer.sign({ role: 'root' as 'admin' })))).toBe('claims');
    expect(await reason(v.verify(await issuer.sign({ sub: 'not-a-uuid' })))).toBe('claims');
    expect(await reason(v.verify(await issuer.sign({ sid: 42 as unknown as string })))).toBe('claims');
    expect(await reason(v.verify(await issuer.sign({ exp: String(now() + 60) as unknown as number })))).toBe('claims');
    // Longer-lived than any access token may be.
    expect(await reason(v.verify(await issuer.sign({ exp: now() + 2 * 86_400 })))).toBe('claims');
  });

  it('never puts the reason into what a caller sees', async () => {
    const v = await startVerifier();
    const err = await refusal(v.verify(await issuer.sign({ token_type: 'refresh' })));
    expect(err.message).toBe('invalid or expired token');
    expect(err.details).toBeUndefined();
    expect(err.headers).toBeUndefined();
    expect(err.detail).toContain('token_type');
  });
});

describe('JWKS availability', () => {
  it('answers DEPENDENCY_UNAVAILABLE (503) when the keys were never fetched, and does not retry within the cooldown', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const v = await startVerifier({ jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` });
    const token = await issuer.sign();
    for (let i = 0; i < 2; i++) {
      const err = await v.verify(token).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('DEPENDENCY_UNAVAILABLE');
      expect((err as AppError).httpStatus).toBe(503);
    }
  });

  it('resolves a URL function at fetch time (a process that learns its own port later)', async () => {
    let url = 'http://127.0.0.1:1/.well-known/jwks.json';
    const v = await startVerifier({ jwksUrl: () => url });
    url = issuer.jwksUrl;
    await expect(v.verify(await issuer.sign())).resolves.toBeTruthy();
  });

  it('keeps verifying with the cached keys while the JWKS fails, refreshing in the background', async () => {
    const v = await startVerifier({ jwksMaxAgeMs: 100, jwksCooldownMs: 50 });
    await v.verify(await issuer.sign());
    issuer.jwksStatus = 500;
    try {
      await sleep(150);
      const fetches = issuer.fetches;
      const started = performance.now();
      await expect(v.verify(await issuer.sign())).resolves.toBeTruthy();
      expect(performance.now() - started).toBeLessThan(100); // did not wait for the refresh
      await sleep(100);
      await expect(v.verify(await issuer.sign())).resolves.toBeTruthy();
      expect(issuer.fetches).toBeGreaterThan(fetches); // the refresh was attempted and failed
    } finally {
      issuer.jwksStatus = 200;
    }
  });

  it('refuses to verify before start()', async () => {
    const redis = client();
    const v = new TokenVerifier({ jwksUrl: issuer.jwksUrl, issuer: issuer.issuer, audience: issuer.audience, redis, logger });
    await expect(v.verify(await issuer.sign())).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('counts outcomes in auth_token_verifications_total', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const v = await startVerifier({ metrics });
    await v.verify(await issuer.sign());
    await refusal(v.verify(await issuer.sign({ token_type: 'refresh' })));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/auth_token_verifications_total\{outcome="accepted"\} 1/);
    expect(text).toMatch(/auth_token_verifications_total\{outcome="token_type"\} 1/);
    expect(text).toMatch(/auth_jwks_fetches_total\{outcome="ok"\} 1/);
    expect(text).toMatch(/auth_revocation_syncs_total\{outcome="ok"\} 1/);
  });
});

describe('revocation', () => {
  it('a revocation by revokeSessions is enforced by another process within 1 s', async () => {
    const other = await startVerifier(); // another process: its own connections
    const sid = randomUUID();
    const token = await issuer.sign({ sid });
    await other.verify(token); // accepted (and remembered)

    const started = performance.now();
    await revokeSessions(writer, PREFIX, [{ sid, until: Date.now() + 900_000 }]);
    for (;;) {
      const refused = await other.verify(token).then(
        () => false,
        (e: unknown) => e instanceof InvalidTokenError && e.reason === 'revoked',
      );
      if (refused) break;
      if (performance.now() - started > 5_000) throw new Error('revocation not seen within 5 s');
      await sleep(5);
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1_000);
    // Another session of the same user is unaffected.
    await expect(other.verify(await issuer.sign({ sid: randomUUID() }))).resolves.toBeTruthy();
  });

  it('a verifier started after a revocation reads it from the sorted set', async () => {
    const sid = randomUUID();
    await revokeSessions(writer, PREFIX, [{ sid, until: Date.now() + 900_000 }]);
    const late = await startVerifier();
    expect(await reason(late.verify(await issuer.sign({ sid })))).toBe('revoked');
    expect(late.revocations.size).toBeGreaterThanOrEqual(1);
    // Long-lived connections ask about the session without verifying a token again.
    expect(late.isSessionRevoked(sid)).toBe(true);
    expect(late.isSessionRevoked(randomUUID())).toBe(false);
  });

  it('stores until + clock tolerance, keeps the later of two revocations and drops expired entries', async () => {
    const sid = randomUUID();
    const until = Date.now() + 60_000;
    await revokeSessions(writer, PREFIX, [{ sid, until }]);
    expect(Number(await writer.zscore(REVOKED_SESSIONS_KEY, sid))).toBe(until + TOKEN_CLOCK_TOLERANCE_SECONDS * 1000);
    await revokeSessions(writer, PREFIX, [{ sid, until: until - 30_000 }]);
    expect(Number(await writer.zscore(REVOKED_SESSIONS_KEY, sid))).toBe(until + TOKEN_CLOCK_TOLERANCE_SECONDS * 1000);

    // An entry whose time has passed (written long ago) is removed by the next revocation.
    await raw.zadd(`${PREFIX}${REVOKED_SESSIONS_KEY}`, Date.now() - 1_000, 'stale-session');
    await revokeSessions(writer, PREFIX, [{ sid: randomUUID(), until: Date.now() + 1_000 }]);
    expect(await raw.zscore(`${PREFIX}${REVOKED_SESSIONS_KEY}`, 'stale-session')).toBeNull();
    // A session whose tokens all expired long ago needs nothing written.
    const before = await writer.zcard(REVOKED_SESSIONS_KEY);
    await revokeSessions(writer, PREFIX, [{ sid: randomUUID(), until: Date.now() - 120_000 }]);
    expect(await writer.zcard(REVOKED_SESSIONS_KEY)).toBe(before);
  });

  it('revokes several sessions in one call (logout-all) and checks its arguments', async () => {
    const v = await startVerifier();
    const sids = [randomUUID(), randomUUID(), randomUUID()];
    const tokens = await Promise.all(sids.map((sid) => issuer.sign({ sid })));
    for (const t of tokens) await v.verify(t);
    await revokeSessions(writer, PREFIX, sids.map((sid) => ({ sid, until: Date.now() + 900_000 })));
    for (const t of tokens) {
      await waitFor(async () => (await v.verify(t).then(() => false, () => true)) || undefined, 'revocation of every session');
    }
    await expect(revokeSessions(writer, 'other:', [{ sid: sids[0]!, until: Date.now() + 1000 }])).rejects.toThrow(/keyPrefix/);
    await expect(revokeSessions(writer, PREFIX, [{ sid: '', until: Date.now() + 1000 }])).rejects.toThrow(TypeError);
    await expect(revokeSessions(writer, PREFIX, [{ sid: 'x', until: Number.NaN }])).rejects.toThrow(TypeError);
    await expect(revokeSessions(writer, PREFIX, [])).resolves.toBeUndefined();
  });

  it('prunes expired entries from memory, and ignores malformed messages', async () => {
    let clock = Date.now();
    const v = await startVerifier({ now: () => clock });
    const sid = randomUUID();
    const until = Date.now();
    await revokeSessions(writer, PREFIX, [{ sid, until }]);
    await waitFor(() => v.revocations.isRevoked(sid) || undefined, 'the revocation message');

    await raw.publish(revocationsChannel(PREFIX), 'not json');
    await raw.publish(revocationsChannel(PREFIX), JSON.stringify({ sid: 42, until: 'soon' }));
    await raw.publish(revocationsChannel(PREFIX), JSON.stringify({ sid: 'expired-one', until: clock - 1 }));
    const sid2 = randomUUID();
    await revokeSessions(writer, PREFIX, [{ sid: sid2, until: Date.now() + 600_000 }]);
    await waitFor(() => v.revocations.isRevoked(sid2) || undefined, 'a valid message after malformed ones');
    expect(v.revocations.isRevoked('expired-one')).toBe(false);

    clock = until + TOKEN_CLOCK_TOLERANCE_SECONDS * 1000 + 1;
    await v.revocations.resync();
    expect(v.revocations.isRevoked(sid)).toBe(false);
    expect(v.revocations.isRevoked(sid2)).toBe(true);
    // Only entries still in force remain in memory.
    for (const s of [sid]) expect((v.revocations as unknown as { entries: Map<string, number> }).entries.has(s)).toBe(false);
  });

  it('verify does not send a single Redis command in the common path', async () => {
    const v = await startVerifier({ revocationResyncMs: 60_000 });
    const sid = randomUUID();
    await revokeSessions(writer, PREFIX, [{ sid, until: Date.now() + 900_000 }]);
    await waitFor(() => v.revocations.isRevoked(sid) || undefined, 'the revocation');
    const tokens = await Promise.all(Array.from({ length: 20 }, () => issuer.sign()));
    const revoked = await issuer.sign({ sid });

    const monitor = await raw.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => String(a).includes(PREFIX))) seen.push(args.join(' '));
    });
    await sleep(100);
    try {
      for (let round = 0; round < 5; round++) {
        for (const t of tokens) await v.verify(t); // first round: full verification; then remembered
        expect(await reason(v.verify(revoked))).toBe('revoked');
      }
      await sleep(100);
      expect(seen).toEqual([]);
      // Control: MONITOR does see this verifier's commands (a resync reads the sorted set).
      await v.revocations.resync();
      await waitFor(() => seen.find((c) => /zrangebyscore/i.test(c)), 'the resync in MONITOR');
    } finally {
      monitor.disconnect();
    }
  });

  it('keeps enforcing known revocations while Redis is unreachable, and catches up after reconnecting', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await tcpProxy(Number(target.port || 6379), target.hostname);
    try {
      const v = await startVerifier({}, `redis://127.0.0.1:${proxy.port}`);
      const sidA = randomUUID();
      const sidB = randomUUID();
      const tokenA = await issuer.sign({ sid: sidA });
      const tokenB = await issuer.sign({ sid: sidB });
      await revokeSessions(writer, PREFIX, [{ sid: sidA, until: Date.now() + 900_000 }]);
      await waitFor(() => v.revocations.isRevoked(sidA) || undefined, 'revocation of A');

      await proxy.cut(); // Redis is gone for this process
      await sleep(200);
      expect(await reason(v.verify(tokenA))).toBe('revoked');
      await expect(v.verify(tokenB)).resolves.toBeTruthy();
      await expect(v.verify(await issuer.sign())).resolves.toBeTruthy(); // full verification, no Redis

      // Revoked during the outage: this process cannot know yet...
      await revokeSessions(writer, PREFIX, [{ sid: sidB, until: Date.now() + 900_000 }]);
      await sleep(300);
      await expect(v.verify(tokenB)).resolves.toBeTruthy();

      // ...and learns it by resyncing once the subscriber is back.
      await proxy.restore();
      await waitFor(async () => (await v.verify(tokenB).then(() => false, (e: unknown) => e instanceof InvalidTokenError && e.reason === 'revoked')) || undefined, 'resync after reconnect', 15_000);

      // And it is subscribed again: a new revocation arrives by pub/sub within a second.
      const sidC = randomUUID();
      const started = performance.now();
      await revokeSessions(writer, PREFIX, [{ sid: sidC, until: Date.now() + 900_000 }]);
      await waitFor(() => v.revocations.isRevoked(sidC) || undefined, 'a revocation after the reconnect');
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await proxy.close();
    }
  });

  it('start() rejects when Redis is unreachable (a process must not verify without the revocation list)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const redis = client(`redis://127.0.0.1:${port}`);
    const v = new TokenVerifier({ jwksUrl: issuer.jwksUrl, issuer: issuer.issuer, audience: issuer.audience, redis, logger });
    await expect(v.start()).rejects.toThrow();
    await expect(v.verify(await issuer.sign())).rejects.toMatchObject({ code: 'INTERNAL' });
    await v.stop();
  });

  it('stop() closes the subscriber', async () => {
    const channel = revocationsChannel(PREFIX);
    const count = async () => Number(((await raw.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const base = await count();
    const v = await startVerifier();
    expect(await count()).toBe(base + 1);
    await v.stop();
    await waitFor(async () => (await count()) === base || undefined, 'the subscriber to close');
  });
});

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A TCP proxy to Redis that can be cut (every connection dropped, port closed) and restored on the same port. */
async function tcpProxy(targetPort: number, targetHost: string): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((downstream) => {
      const upstream = new Socket();
      upstream.connect(targetPort, targetHost);
      for (const s of [downstream, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          sockets.delete(s);
          downstream.destroy();
          upstream.destroy();
        });
      }
      downstream.pipe(upstream).pipe(downstream);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
