import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServices, StartupError, type RunningPlatform } from '@nova/platform';
import { createTestEnv, type TestEnv } from '@nova/testing';
import { eventsService } from '../src/index.js';
import { ADMIN_TOKEN, adminApi } from './support.js';

let env: TestEnv;
let platform: RunningPlatform;
const api = adminApi(() => platform);

beforeAll(async () => {
  env = await createTestEnv();
  platform = await runServices({ services: [eventsService], env: env.env() });
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

describe('events admin API without EVENTS_ADMIN_TOKEN', () => {
  it('answers 403 on every route, telling the operator to set EVENTS_ADMIN_TOKEN', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/events'],
      ['GET', '/api/v1/events/catalogue'],
      ['GET', '/api/v1/events/outbox'],
      ['GET', '/api/v1/events/dead-letters'],
      ['POST', '/api/v1/events/dead-letters/1/redrive'],
    ] as const) {
      for (const token of [null, ADMIN_TOKEN, '']) {
        const res = await api(method, path, { token });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'the events admin API is disabled: set EVENTS_ADMIN_TOKEN' });
      }
    }
    // The service itself runs: only its admin API is closed.
    expect((await api('GET', '/ready', { token: null })).status).toBe(200);
  });

  it('refuses to start with a token shorter than 32 characters, without printing it', async () => {
    const short = 'short-admin-token-1234';
    const err = await runServices({ services: [eventsService], env: env.env({ EVENTS_ADMIN_TOKEN: short }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain('EVENTS_ADMIN_TOKEN must be at least 32 characters');
    expect((err as Error).message).not.toContain(short);
  });
});
