import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineService, runServices, type RunningPlatform } from '@nova/platform';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { authService } from '../src/index.js';

/**
 * Two processes, as in production: auth in one, another service in the other, verifying tokens with its own
 * verifier against auth's JWKS. A logout in auth must reach the other process within a second.
 */
const probe = defineService({
  name: 'user',
  description: 'a service with one protected route, for this test',
  migrations: {},
  create: () => ({
    http: (app) => {
      app.get('/api/v1/users/probe', { config: { auth: 'required' } }, async (req) => ({ user_id: req.identity?.userId }));
    },
  }),
});

let env: TestEnv;
let auth: RunningPlatform;
let other: RunningPlatform;

beforeAll(async () => {
  env = await createTestEnv();
  const common = { AUTH_KEY_SIZE_BITS: '2048', AUTH_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  auth = await runServices({ services: [authService], env: env.env(common) });
  other = await runServices({ services: [probe], env: env.env({ ...common, AUTH_JWKS_URL: `http://127.0.0.1:${auth.httpPort}/.well-known/jwks.json` }) });
});

afterAll(async () => {
  await other?.stop();
  await auth?.stop();
  await env?.cleanup();
});

async function post(path: string, body: unknown, token?: string) {
  const res = await fetch(`http://127.0.0.1:${auth.httpPort}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (res.status === 204 ? undefined : await res.json()) as any };
}

const probeStatus = async (token: string) =>
  (await fetch(`http://127.0.0.1:${other.httpPort}/api/v1/users/probe`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('revocation across processes', () => {
  it('a logged-out access token is refused by another service within 1 s', async () => {
    const reg = await post('/api/v1/auth/register', { email: 'rev@example.com', username: 'rev_user', password: 'a-long-unusual-passphrase' });
    expect(reg.status).toBe(201);
    const token = reg.body.tokens.access_token as string;
    expect(await probeStatus(token)).toBe(200);

    expect((await post('/api/v1/auth/logout', {}, token)).status).toBe(204);
    const loggedOutAt = Date.now();
    await eventually(async () => (await probeStatus(token)) === 401, 'the other service to refuse the token', 5_000, 10);
    expect(Date.now() - loggedOutAt).toBeLessThan(1_000);
  });

  it('logout-all ends every session of the user in the other service too', async () => {
    const reg = await post('/api/v1/auth/register', { email: 'rev2@example.com', username: 'rev_user2', password: 'another-long-passphrase' });
    const first = reg.body.tokens.access_token as string;
    const second = (await post('/api/v1/auth/login', { identifier: 'rev_user2', password: 'another-long-passphrase' })).body.tokens.access_token as string;
    expect(await probeStatus(first)).toBe(200);
    expect(await probeStatus(second)).toBe(200);
    expect((await post('/api/v1/auth/logout-all', {}, second)).status).toBe(204);
    await eventually(async () => (await probeStatus(first)) === 401 && (await probeStatus(second)) === 401, 'both sessions refused', 5_000, 10);
  });
});
