// Shared by the e2ee benchmarks: messaging (with the user service) on a fresh isolated environment, seeded
// profiles, and devices registered through the HTTP API with keys signed by libsignal-client identities
// (a dev dependency: benchmarks are not shipped).
import { performance } from 'node:perf_hooks';
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import { newId, runServices } from '@nova/platform';
import { createTestEnv, TestTokenIssuer } from '@nova/testing';
import { messagingService } from '@nova/messaging';
import { userService } from '@nova/user';
import { devNullLogger } from './auth-support.mjs';
import { ip } from './content-support.mjs';

export const now = () => performance.timeOrigin + performance.now();
const b64 = (b) => Buffer.from(b).toString('base64');

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export async function startE2ee({ log, users }) {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const sink = devNullLogger('info', 'nova');
  const platform = await runServices({
    services: [messagingService, userService],
    env: env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', OUTBOX_POLL_INTERVAL_MS: '200', MESSAGING_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') }),
    logger: sink.logger,
  });
  const url = `http://127.0.0.1:${platform.httpPort}`;
  const ids = Array.from({ length: users }, () => newId());
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  await pool.query(`INSERT INTO users.profiles (id, username, username_lower) SELECT id, 'e' || n, 'e' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`, [ids]);
  await pool.end();
  log(`seeded ${users} profiles`);
  let calls = 0;
  const api = async (method, path, token, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip(++calls), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  /** Registers a new session of `userId` as its primary device, with `oneTime` one-time EC and Kyber prekeys. */
  const device = async (userId, oneTime) => {
    const token = await issuer.sign({ sub: userId });
    const identity = IdentityKeyPair.generate();
    const registration = 1 + Math.floor(Math.random() * 16_000);
    const reg = await api('POST', '/api/v1/devices', token, { registration_id: registration, identity_key: b64(identity.publicKey.serialize()), primary: true });
    if (reg.status !== 201) throw new Error(`device: HTTP ${reg.status} ${JSON.stringify(reg.body)}`);
    const signed = (key) => ({ public_key: b64(key), signature: b64(identity.privateKey.sign(key)) });
    let keyId = 1;
    for (let left = oneTime, first = true; first || left > 0; first = false) {
      const n = Math.min(100, left);
      left -= n;
      const body = {
        ...(first ? { signed_prekey: { key_id: keyId++, ...signed(PrivateKey.generate().getPublicKey().serialize()) }, kyber_last_resort: { key_id: keyId++, ...signed(KEMKeyPair.generate().getPublicKey().serialize()) } } : {}),
        one_time_prekeys: Array.from({ length: n }, () => ({ key_id: keyId++, public_key: b64(PrivateKey.generate().getPublicKey().serialize()) })),
        one_time_kyber_prekeys: Array.from({ length: n }, () => ({ key_id: keyId++, ...signed(KEMKeyPair.generate().getPublicKey().serialize()) })),
      };
      const up = await api('PUT', '/api/v1/keys', token, body);
      if (up.status !== 200) throw new Error(`keys: HTTP ${up.status} ${JSON.stringify(up.body)}`);
    }
    return { userId, token, deviceId: reg.body.device_id, registrationId: registration };
  };
  return {
    url,
    ids,
    api,
    device,
    issuer,
    async stop() {
      await platform.stop();
      await issuer.close();
      await env.cleanup();
    },
  };
}
