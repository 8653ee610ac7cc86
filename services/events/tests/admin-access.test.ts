import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServices, StartupError, type RunningPlatform } from '@nova/platform';
import { createTestEnv, TestTokenIssuer, type TestEnv } from '@nova/testing';
import { eventsService } from '../src/index.js';
import { ADMIN_TOKEN, adminApi } from './support.js';

/** Without EVENTS_ADMIN_TOKEN the admin API is for administrators' access tokens only. */
let env: TestEnv;
let issuer: TestTokenIssuer;
let platform: RunningPlatform;
const api = adminApi(() => platform);

beforeAll(async () => {
  env = await createTestEnv();
  issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  platform = await runServices({ services: [eventsService], env: env.env({ AUTH_JWKS_URL: issuer.jwksUrl }) });
});

afterAll(async () => {
  await platform?.stop();
  await issuer?.close();
  await env?.cleanup();
});

describe('events admin API with administrators\' access tokens', () => {
  const routes = [
    ['GET', '/api/v1/events'],
    ['GET', '/api/v1/events/catalogue'],
    ['GET', '/api/v1/events/outbox'],
    ['GET', '/api/v1/events/dead-letters'],
  ] as const;

  it('admits an admin token on every route', async () => {
    const token = await issuer.sign({ role: 'admin' });
    for (const [method, path] of routes) expect((await api(method, path, { token })).status, `${method} ${path}`).toBe(200);
  });

  it('refuses users and moderators with 403, and no or bad tokens with 401', async () => {
    for (const role of ['user', 'moderator'] as const) {
      const res = await api('GET', '/api/v1/events', { token: await issuer.sign({ role }) });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'administrators only' });
    }
    expect((await api('GET', '/api/v1/events', { token: null })).status).toBe(401);
    expect((await api('GET', '/api/v1/events', { token: await issuer.sign({ role: 'admin', token_type: 'refresh' }) })).status).toBe(401);
    expect((await api('GET', '/api/v1/events', { token: await issuer.sign({ role: 'admin', exp: Math.floor(Date.now() / 1000) - 120 }) })).status).toBe(401);
  });

  it('does not take an unconfigured static token', async () => {
    const res = await api('GET', '/api/v1/events', { token: ADMIN_TOKEN });
    expect(res.status).toBe(403);
    expect((await api('GET', '/ready', { token: null })).status).toBe(200);
  });

  it('refuses to start with a static token shorter than 32 characters, without printing it', async () => {
    const short = 'short-admin-token-1234';
    const err = await runServices({ services: [eventsService], env: env.env({ EVENTS_ADMIN_TOKEN: short, AUTH_JWKS_URL: issuer.jwksUrl }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain('EVENTS_ADMIN_TOKEN must be at least 32 characters');
    expect((err as Error).message).not.toContain(short);
  });
});
