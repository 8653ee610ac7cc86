import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService, createContext } from '@nova/auth';
import { AppError, newId, runServices, runTask, StartupError, type RunningPlatform } from '@nova/platform';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { keysList, keysRotate, usersRole } from '../src/commands.js';

const run = promisify(execFile);
const CLI = new URL('../dist/main.js', import.meta.url).pathname;

let env: TestEnv;
let vars: Record<string, string>;
let platform: RunningPlatform;

beforeAll(async () => {
  env = await createTestEnv();
  vars = env.env({
    AUTH_KEY_SIZE_BITS: '2048',
    AUTH_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    MAIL_DIR: mkdtempSync(join(tmpdir(), 'nova-cli-mail-')),
    // Requests below come from distinct X-Forwarded-For addresses, so the 5/min login limit holds.
    TRUSTED_PROXIES: '127.0.0.1',
  });
  platform = await runServices({ services: [authService], env: vars });
});
afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

let ipCounter = 0;
async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'x-forwarded-for': `10.9.${(++ipCounter >> 8) & 255}.${ipCounter & 255}` };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${platform.httpPort}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
}

const PASSWORD = 'correct horse battery staple 42';

async function register(name: string) {
  const username = `${name}_${randomBytes(3).toString('hex')}`;
  const res = await api('POST', '/api/v1/auth/register', { body: { email: `${username}@example.com`, username, password: PASSWORD } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id as string, username, email: `${username}@example.com`, access: res.body.tokens.access_token as string, refresh: res.body.tokens.refresh_token as string };
}

async function login(identifier: string) {
  const res = await api('POST', '/api/v1/auth/login', { body: { identifier, password: PASSWORD } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { access: res.body.tokens.access_token as string, refresh: res.body.tokens.refresh_token as string };
}

const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string };
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { role: string; sid: string };
const jwksKids = async () => ((await api('GET', '/.well-known/jwks.json')).body.keys as Array<{ kid: string }>).map((k) => k.kid);

describe('nova keys', () => {
  it('rotate --now: the JWKS lists both keys, earlier tokens keep working, new tokens carry the new kid', { timeout: 90_000 }, async () => {
    const alice = await register('alice');
    const oldKid = header(alice.access).kid;
    expect(await jwksKids()).toEqual([oldKid]);

    const out = await keysRotate({ now: true }, vars);
    const newKid = /signing key (\S+) created/.exec(out)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);
    expect(out).toContain('nobody is logged out');

    // The running service re-reads its keys within its 30 s cache; then it publishes both and signs with the new one.
    await eventually(async () => (await jwksKids()).join() === [newKid, oldKid].join(), 'the JWKS to publish the new key', 45_000, 500);
    const fresh = await login(alice.username);
    expect(header(fresh.access).kid).toBe(newKid);

    // Nobody was logged out: the access and refresh tokens signed by the previous key still work.
    expect((await api('GET', '/api/v1/auth/me', { token: alice.access })).status).toBe(200);
    expect((await api('GET', '/api/v1/auth/me', { token: fresh.access })).status).toBe(200);
    const refreshed = await api('POST', '/api/v1/auth/refresh', { body: { refresh_token: alice.refresh } });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(header(refreshed.body.access_token).kid).toBe(newKid);

    const listed = await keysList(vars);
    expect(listed).toMatch(new RegExp(`^${newKid}\\s+active\\s`, 'm'));
    expect(listed).toMatch(new RegExp(`^${oldKid}\\s+previous\\s`, 'm'));
  });

  it('rotate (default) right after a rotation waits until no valid access token loses its key; an explicit time is refused', async () => {
    const before = await keysList(vars);
    const [, activeKid, activeSince] = /^(\S+)\s+active\s+\S+\s+(\S+)/m.exec(before)!;
    const previousKid = /^(\S+)\s+previous\s/m.exec(before)![1];

    // Activating now would withdraw the previous key, whose access tokens (15 min) may still be valid.
    const refused = await keysRotate({ now: true }, vars).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('PRECONDITION_FAILED');
    expect((refused as Error).message).toContain(`would withdraw key ${previousKid} from the JWKS`);
    expect((refused as Error).message).toContain('--force');
    expect(await keysList(vars), 'a refused rotation creates no key').toBe(before);

    // Without a time it picks the earliest safe one: the access lifetime (900 s) + 90 s after the active key took over.
    const out = await keysRotate({}, vars);
    const kid = /signing key (\S+) created/.exec(out)![1]!;
    const activates = Date.parse(/signs new tokens from (\S+) \(in \d+ s: the earliest moment/.exec(out)![1]!);
    expect(activates).toBe(Date.parse(activeSince!) + 990_000);
    expect(await keysList(vars)).toMatch(new RegExp(`^${kid}\\s+pending\\s`, 'm'));

    // What a replica reading the keys now publishes and signs with (the running one catches up within 30 s).
    const replica = await runTask(authService, vars, async (deps) => {
      const ctx = createContext(deps);
      return { published: (await ctx.keys.jwks()).keys.map((k) => k.kid), signing: (await ctx.keys.active()).kid };
    });
    expect(replica).toEqual({ published: [kid, activeKid, previousKid], signing: activeKid });

    // Two keys from long ago: the older one was superseded 60 days ago, so every refresh token it signed
    // (30 days) has expired and a rotation retires it; the younger one was superseded only minutes ago.
    const [ancient, old] = [newId(), newId()];
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      for (const [k, days] of [[ancient, 100], [old, 60]] as const) {
        await db.query(`INSERT INTO auth.signing_keys (kid, public_jwk, private_key_enc, created_at, activates_at)
          SELECT $1, public_jwk, private_key_enc, now() - $2 * interval '1 day', now() - $2 * interval '1 day' FROM auth.signing_keys WHERE kid = $3`, [k, days, previousKid]);
      }
    } finally {
      await db.end();
    }

    // --force (a compromised key): the oldest key drops out of the JWKS at once, kept only for refresh tokens.
    const forcedOut = await keysRotate({ now: true, force: true }, vars);
    const forced = /signing key (\S+) created/.exec(forcedOut)![1]!;
    expect(forcedOut).toContain(`retired 1 old key(s) whose refresh tokens have all expired: ${ancient}`);
    const after = await keysList(vars);
    for (const [k, status] of [[kid, 'pending'], [forced, 'active'], [activeKid, 'previous'], [previousKid, 'superseded'], [old, 'superseded'], [ancient, 'retired']]) {
      expect(after).toMatch(new RegExp(`^${k}\\s+${status}\\s`, 'm'));
    }
    expect(after).toContain('superseded: no longer published; still verifies the refresh tokens it signed until they expire');
  });

  it('refuses a bad delay, and --now with --activate-in', async () => {
    await expect(keysRotate({ activateIn: 'soon' }, vars)).rejects.toThrow(StartupError);
    await expect(keysRotate({ activateIn: '-5' }, vars)).rejects.toThrow(/whole number of seconds/);
    await expect(keysRotate({ now: true, activateIn: '60' }, vars)).rejects.toThrow(/not both/);
  });
});

describe('nova users role', () => {
  it('grants a role by username: UserRoleChanged is emitted and the account\'s sessions end', async () => {
    const bob = await register('bob');
    const second = await login(bob.email);
    expect(claims(bob.access).role).toBe('user');

    const out = await usersRole(bob.username, 'moderator', vars);
    expect(out).toBe(`${bob.username} (${bob.id}): user -> moderator; 2 session(s) ended, the next login carries the new role`);

    // Both sessions end everywhere within a second; their refresh tokens are dead too.
    for (const token of [bob.access, second.access]) {
      await eventually(async () => (await api('GET', '/api/v1/auth/me', { token })).status === 401, 'the old token to be refused', 1_000);
    }
    expect((await api('POST', '/api/v1/auth/refresh', { body: { refresh_token: bob.refresh } })).status).toBe(401);

    const again = await login(bob.username);
    expect(claims(again.access).role).toBe('moderator');
    expect((await api('GET', '/api/v1/auth/me', { token: again.access })).body).toMatchObject({ id: bob.id, role: 'moderator' });

    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const event = await eventually(async () => {
        const res = await db.query<{ envelope: { data: unknown; subject: string }; published_at: Date | null }>("SELECT envelope, published_at FROM auth.outbox WHERE event_type = 'UserRoleChanged' AND envelope->'data'->>'user_id' = $1", [bob.id]);
        return res.rows[0]?.published_at ? res.rows[0] : undefined;
      }, 'UserRoleChanged to be published');
      expect(event.envelope.data).toEqual({ user_id: bob.id, from: 'user', to: 'moderator', changed_by: null });
    } finally {
      await db.end();
    }

    // By email and by id; granting the role it has changes nothing and ends no session.
    expect(await usersRole(bob.email.toUpperCase(), 'moderator', vars)).toBe(`${bob.username} (${bob.id}) already has the role moderator`);
    expect((await api('GET', '/api/v1/auth/me', { token: again.access })).status).toBe(200);
    expect(await usersRole(bob.id, 'admin', vars)).toContain('moderator -> admin; 1 session(s) ended');
  });

  it('names what is wrong: an unknown account, an unknown role, missing arguments', async () => {
    const unknown = await usersRole('nobody_at_all', 'admin', vars).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(AppError);
    expect((unknown as AppError).code).toBe('NOT_FOUND');
    expect((unknown as Error).message).toContain('nobody_at_all');
    await expect(usersRole('someone', 'root', vars)).rejects.toThrow(/role must be one of user, moderator, admin/);
    await expect(usersRole('someone', undefined, vars)).rejects.toThrow(StartupError);
  });
});

describe('the nova command (built)', () => {
  const nova = (...args: string[]) => run('node', [CLI, ...args], { env: { ...vars, PATH: process.env.PATH ?? '' } }).catch((e: { code: number; stdout: string; stderr: string }) => e);

  it('lists keys, and fails readably on an unknown account or option', async () => {
    const list = await nova('keys', 'list');
    expect(list.stdout).toMatch(/^KID\s+STATUS\s+CREATED\s+ACTIVATES\s+RETIRED$/m);
    expect(list.stdout).toMatch(/\sactive\s/);

    const unknown = (await nova('users', 'role', 'nobody_at_all', 'admin')) as { code: number; stderr: string };
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('nova: no account with the id, username or email "nobody_at_all"\n');

    const bad = (await nova('keys', 'rotate', '--in', '5')) as { code: number; stderr: string };
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^nova: Unknown option '--in'/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
