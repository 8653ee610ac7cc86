import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URI, type TOTP } from 'otpauth';
import { awaitStepMargin, login, registerUser, startAuth, totpCode, type AuthHarness, type RegisteredUser } from './support.js';

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const setup = (u: RegisteredUser) => h.api('POST', '/api/v1/auth/2fa/setup', { token: u.access });
const enable = (u: RegisteredUser, code: string) => h.api('POST', '/api/v1/auth/2fa/enable', { token: u.access, body: { code } });
const disable = (u: RegisteredUser, password: string, code: string) => h.api('POST', '/api/v1/auth/2fa/disable', { token: u.access, body: { password, code } });
const userRow = (id: string) => h.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** A user with 2FA enabled: its secret and backup codes. */
async function enrolled(label: string): Promise<{ u: RegisteredUser; secret: string; backup: string[] }> {
  const u = await registerUser(h, label);
  const s = await setup(u);
  expect(s.status).toBe(200);
  const e = await enable(u, totpCode(s.body.secret));
  expect(e.status).toBe(200);
  return { u, secret: s.body.secret, backup: e.body.backup_codes };
}

describe('POST /api/v1/auth/2fa/setup', () => {
  it('returns a base32 secret and an otpauth:// URI authenticator apps import, stores the secret sealed and not yet in force', async () => {
    const u = await registerUser(h, 'setup');
    const res = await setup(u);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { secret, otpauth_uri: uri } = res.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 20 bytes

    expect(uri.startsWith(`otpauth://totp/Nova:${u.username}?`)).toBe(true);
    const params = new URL(uri).searchParams;
    expect(Object.fromEntries(params)).toEqual({ secret, issuer: 'Nova', algorithm: 'SHA1', digits: '6', period: '30' });
    // What an app does with the QR code: parse it and produce codes.
    const app = URI.parse(uri) as TOTP;
    expect({ issuer: app.issuer, label: app.label, algorithm: app.algorithm, digits: app.digits, period: app.period }).toEqual({ issuer: 'Nova', label: u.username, algorithm: 'SHA1', digits: 6, period: 30 });
    const now = Date.now();
    expect(app.generate({ timestamp: now })).toBe(totpCode(secret, 0, now));

    const row = await userRow(u.id);
    expect(row.totp_secret_enc).toMatch(/^v1\./);
    expect(row.totp_secret_enc).not.toContain(secret);
    expect(row.totp_enabled_at).toBeNull();
    // Pending: login does not ask for a code yet, and /me says 2FA is off.
    expect((await login(h, u.email, u.password)).status).toBe(200);
    expect((await h.api('GET', '/api/v1/auth/me', { token: u.access })).body.two_factor_enabled).toBe(false);

    // Setting up again replaces the pending secret.
    const again = await setup(u);
    expect(again.body.secret).not.toBe(secret);
  });

  it('needs authentication', async () => {
    expect((await h.api('POST', '/api/v1/auth/2fa/setup')).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/2fa/enable', { body: { code: '123456' } })).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/2fa/disable', { body: { password: 'x', code: '123456' } })).status).toBe(401);
  });
});

describe('POST /api/v1/auth/2fa/enable', () => {
  it('refuses without a setup, refuses a wrong code, and with a right one turns 2FA on and returns 10 single-use backup codes stored hashed', async () => {
    const u = await registerUser(h, 'enable');
    const early = await enable(u, '123456');
    expect(early.status).toBe(412);
    expect(early.body.error.code).toBe('PRECONDITION_FAILED');

    const { secret } = (await setup(u)).body;
    const wrongCode = String((Number(totpCode(secret)) + 1) % 1_000_000).padStart(6, '0');
    const wrong = await enable(u, wrongCode);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details).toEqual({ field: 'code' });
    expect((await userRow(u.id)).totp_enabled_at).toBeNull();

    const res = await enable(u, totpCode(secret));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const codes = res.body.backup_codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/);

    const row = await userRow(u.id);
    expect(row.totp_enabled_at).toBeInstanceOf(Date);
    const stored = await h.db.selectFrom('backup_codes').select(['code_hash', 'used_at']).where('user_id', '=', u.id).execute();
    expect(stored).toHaveLength(10);
    for (const s of stored) {
      expect(s.code_hash).toMatch(/^\$argon2id\$/);
      expect(s.used_at).toBeNull();
      for (const c of codes) expect(s.code_hash).not.toContain(c.replace('-', ''));
    }
    expect((await h.api('GET', '/api/v1/auth/me', { token: u.access })).body.two_factor_enabled).toBe(true);

    // The code that enabled 2FA cannot be replayed to log in.
    const replay = await login(h, u.email, u.password, { totp_code: totpCode(secret) });
    expect(replay.status).toBe(401);

    const again = await setup(u);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    expect((await enable(u, totpCode(secret))).status).toBe(409);
  });
});

describe('login with 2FA', () => {
  it('without a code: 401 TOTP_REQUIRED and no tokens; with a wrong code: the generic 401', async () => {
    const { u, secret } = await enrolled('need');
    const res = await login(h, u.email, u.password);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('TOTP_REQUIRED');
    expect(res.body.tokens).toBeUndefined();
    expect(res.body.user).toBeUndefined();

    const wrongCode = String((Number(totpCode(secret)) + 1) % 1_000_000).padStart(6, '0');
    const wrong = await login(h, u.email, u.password, { totp_code: wrongCode });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    // A wrong password with a right code gives nothing away either.
    const badPassword = await login(h, u.email, 'Not-The-Password-9', { totp_code: totpCode(secret, 1) });
    expect(badPassword.status).toBe(401);
    expect(badPassword.body.error.code).toBe('INVALID_CREDENTIALS');
  });

  it('accepts codes within ±1 step, refuses ±2, and accepts each step once', async () => {
    const { u, secret } = await enrolled('window');
    // Enabling spent the current step; start from a clean slate to look at the window alone.
    await h.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', u.id).execute();
    await awaitStepMargin();
    const at = Date.now();
    const attempt = (offset: number) => login(h, u.username, u.password, { totp_code: totpCode(secret, offset, at) });

    expect((await attempt(-2)).status).toBe(401);
    expect((await attempt(2)).status).toBe(401);
    expect((await attempt(-1)).status).toBe(200);
    const replayPrevious = await attempt(-1);
    expect(replayPrevious.status).toBe(401);
    expect(replayPrevious.body.error.code).toBe('INVALID_CREDENTIALS');
    expect((await attempt(0)).status).toBe(200);
    expect((await attempt(0)).status).toBe(401);
    expect((await attempt(1)).status).toBe(200);
    expect((await attempt(1)).status).toBe(401);
    // Once a later step was used, an earlier one is no good either.
    expect((await attempt(0)).status).toBe(401);
    const row = await userRow(u.id);
    expect(Number(row.totp_last_step)).toBe(Math.floor(at / 30_000) + 1);
  });

  it('accepts each backup code once, in place of a TOTP code, however it is typed', async () => {
    const { u, backup } = await enrolled('backup');
    const [first, second] = backup as [string, string];
    const ok = await login(h, u.email, u.password, { totp_code: first.toUpperCase() });
    expect(ok.status).toBe(200);
    expect(ok.body.tokens.access_token).toEqual(expect.any(String));
    const again = await login(h, u.email, u.password, { totp_code: first });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('INVALID_CREDENTIALS');
    expect((await login(h, u.email, u.password, { totp_code: second.replace('-', '') })).status).toBe(200);
    const used = await h.db.selectFrom('backup_codes').select('id').where('user_id', '=', u.id).where('used_at', 'is not', null).execute();
    expect(used).toHaveLength(2);
    expect((await login(h, u.email, u.password, { totp_code: 'aaaaa-bbbbb' })).status).toBe(401);
  });
});

describe('POST /api/v1/auth/2fa/disable', () => {
  it('needs both the password and a code, then removes the secret and every backup code', async () => {
    const { u, secret, backup } = await enrolled('off');
    expect((await h.api('POST', '/api/v1/auth/2fa/disable', { token: u.access, body: { password: u.password } })).status).toBe(400);
    expect((await h.api('POST', '/api/v1/auth/2fa/disable', { token: u.access, body: { code: backup[0] } })).status).toBe(400);

    const wrongPassword = await disable(u, 'Not-The-Password-9', totpCode(secret, 1));
    expect(wrongPassword.status).toBe(400);
    expect(wrongPassword.body.error.code).toBe('VALIDATION_FAILED');
    const wrongCode = await disable(u, u.password, 'zzzzz-zzzzz');
    expect(wrongCode.status).toBe(400);
    // Same answer for either: a stolen token cannot tell which of the two it got right.
    expect({ ...wrongCode.body.error, request_id: null }).toEqual({ ...wrongPassword.body.error, request_id: null });
    expect((await userRow(u.id)).totp_enabled_at).toBeInstanceOf(Date);

    const res = await disable(u, u.password, backup[3]!);
    expect(res.status).toBe(204);
    const row = await userRow(u.id);
    expect(row).toMatchObject({ totp_secret_enc: null, totp_enabled_at: null, totp_last_step: null, failed_login_count: 0 });
    expect(await h.db.selectFrom('backup_codes').select('id').where('user_id', '=', u.id).execute()).toHaveLength(0);
    expect((await h.api('GET', '/api/v1/auth/me', { token: u.access })).body.two_factor_enabled).toBe(false);
    const plain = await login(h, u.email, u.password);
    expect(plain.status).toBe(200);

    const twice = await disable(u, u.password, totpCode(secret));
    expect(twice.status).toBe(409);

    // And it can be set up afresh, with a new secret and new backup codes.
    const fresh = await setup(u);
    expect(fresh.status).toBe(200);
    expect(fresh.body.secret).not.toBe(secret);
  });

  it('accepts a current TOTP code too', async () => {
    const { u, secret } = await enrolled('offtotp');
    expect((await disable(u, u.password, totpCode(secret, 1))).status).toBe(204);
  });

  it('counts wrong passwords towards the lockout', async () => {
    const { u, secret } = await enrolled('offlock');
    for (let i = 0; i < 5; i++) expect((await disable(u, `Wrong-Password-${i}`, totpCode(secret))).status).toBe(400);
    const locked = await disable(u, u.password, totpCode(secret, 1));
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
    expect((await userRow(u.id)).totp_enabled_at).toBeInstanceOf(Date);
    expect((await login(h, u.email, u.password, { totp_code: totpCode(secret, 1) })).status).toBe(423);
  });
});
