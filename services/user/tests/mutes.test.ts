import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, sql } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

async function muting(me: TestUser, other: TestUser): Promise<boolean> {
  const res = await h.api('GET', `/api/v1/users/${other.id}/relationship`, { token: me.token });
  expect(res.status).toBe(200);
  return res.body.muting;
}

describe('POST /api/v1/users/:id/mute', () => {
  it('mutes until unmuted when no expiry is given (with or without a body), privately, and records UserMuted', async () => {
    const me = await h.newUser();
    const loud = await h.newUser();
    const res = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, headers: { 'x-correlation-id': 'corr-mute-1' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: loud.id, expires_at: null, created_at: expect.any(String) });
    expect(await muting(me, loud)).toBe(true);

    // The muted person sees nothing of it.
    const theirs = await h.api('GET', `/api/v1/users/${me.id}/relationship`, { token: loud.token });
    expect(theirs.body).toMatchObject({ muting: false, following: false, blocking: false });
    expect(JSON.stringify(theirs.body)).not.toMatch(/muted/);
    expect((await h.api('GET', `/api/v1/users/${me.id}`, { token: loud.token })).status).toBe(200);

    const events = await h.outboxEvents('UserMuted', `${me.id}:${loud.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ muter_id: me.id, muted_id: loud.id, expires_at: null });
    expect(events[0]!.correlation_id).toBe('corr-mute-1');

    const other = await h.newUser();
    const withEmptyBody = await h.api('POST', `/api/v1/users/${other.id}/mute`, { token: me.token, body: {} });
    expect(withEmptyBody.status).toBe(200);
    expect(withEmptyBody.body.expires_at).toBeNull();
  });

  it('takes a duration or an absolute expiry; muting again replaces the expiry', async () => {
    const me = await h.newUser();
    const loud = await h.newUser();
    const before = Date.now();
    const timed = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, body: { duration_seconds: 3600 } });
    expect(timed.status).toBe(200);
    const expires = Date.parse(timed.body.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1_000);

    const at = new Date(Date.now() + 2 * 86_400_000);
    const absolute = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, body: { expires_at: at.toISOString() } });
    expect(absolute.status).toBe(200);
    expect(absolute.body.expires_at).toBe(at.toISOString());

    const forever = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token });
    expect(forever.body.expires_at).toBeNull();
    expect(await h.db.selectFrom('mutes').selectAll().where('muter_id', '=', me.id).execute()).toHaveLength(1);
    expect((await h.outboxEvents('UserMuted', `${me.id}:${loud.id}`)).map((e) => e.data.expires_at)).toEqual([timed.body.expires_at, at.toISOString(), null]);
  });

  it('stops muting once the expiry has passed', async () => {
    const me = await h.newUser();
    const loud = await h.newUser();
    const res = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, body: { duration_seconds: 1 } });
    expect(res.status).toBe(200);
    expect(await muting(me, loud)).toBe(true);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(res.body.expires_at) - Date.now()) + 100));
    expect(await muting(me, loud)).toBe(false);

    // A mute set far ahead and then moved into the past (as time passing would) no longer mutes either.
    const later = await h.newUser();
    await h.api('POST', `/api/v1/users/${later.id}/mute`, { token: me.token, body: { duration_seconds: 86_400 } });
    expect(await muting(me, later)).toBe(true);
    await h.db.updateTable('mutes').set({ expires_at: sql`now() - interval '1 second'` }).where('muter_id', '=', me.id).where('muted_id', '=', later.id).execute();
    expect(await muting(me, later)).toBe(false);

    // Muting again after it lapsed mutes again.
    await h.api('POST', `/api/v1/users/${later.id}/mute`, { token: me.token });
    expect(await muting(me, later)).toBe(true);
  });

  it('refuses self-mutes and invalid expiries with 400, and unknown or hidden users with 404', async () => {
    const me = await h.newUser();
    const loud = await h.newUser();
    const self = await h.api('POST', `/api/v1/users/${me.id}/mute`, { token: me.token });
    expect(self.status).toBe(400);
    expect(self.body.error).toMatchObject({ code: 'BAD_REQUEST', message: 'you cannot mute yourself' });
    expect((await h.api('POST', `/api/v1/users/${me.id.toUpperCase()}/mute`, { token: me.token })).status).toBe(400);

    const cases: Array<[unknown, string]> = [
      [{ expires_at: new Date(Date.now() - 60_000).toISOString() }, 'expires_at must be in the future'],
      [{ expires_at: new Date(Date.now() + 3600_000).toISOString(), duration_seconds: 60 }, 'give expires_at or duration_seconds, not both'],
      [{ expires_at: new Date(Date.now() + 20 * 365 * 86_400_000).toISOString() }, 'expires_at is too far ahead (omit it to mute until unmuted)'],
    ];
    for (const [body, message] of cases) {
      const res = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message });
    }
    for (const body of [{ duration_seconds: 0 }, { duration_seconds: 1.5 }, { duration_seconds: 10 * 365 * 86_400 + 1 }, { expires_at: 'tomorrow' }, { until: 'never' }]) {
      const res = await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await h.api('POST', '/api/v1/users/not-a-uuid/mute', { token: me.token })).status).toBe(400);

    expect((await h.api('POST', `/api/v1/users/${newId()}/mute`, { token: me.token })).status).toBe(404);
    const blocker = await h.newUser();
    await h.insertBlock(blocker.id, me.id);
    expect((await h.api('POST', `/api/v1/users/${blocker.id}/mute`, { token: me.token })).status).toBe(404);
    const deleted = await h.newUser();
    await h.deleteUser(deleted.id);
    expect((await h.api('POST', `/api/v1/users/${deleted.id}/mute`, { token: me.token })).status).toBe(404);

    expect(await h.db.selectFrom('mutes').selectAll().where('muter_id', '=', me.id).execute()).toHaveLength(0);
    expect((await h.api('POST', `/api/v1/users/${loud.id}/mute`)).status).toBe(401);
  });
});

describe('DELETE /api/v1/users/:id/mute', () => {
  it('unmutes, records UserUnmuted once, and is idempotent', async () => {
    const me = await h.newUser();
    const loud = await h.newUser();
    await h.api('POST', `/api/v1/users/${loud.id}/mute`, { token: me.token });
    const res = await h.api('DELETE', `/api/v1/users/${loud.id}/mute`, { token: me.token });
    expect(res.status).toBe(204);
    expect(await muting(me, loud)).toBe(false);
    expect((await h.api('DELETE', `/api/v1/users/${loud.id}/mute`, { token: me.token })).status).toBe(204);
    const events = await h.outboxEvents('UserUnmuted', `${me.id}:${loud.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ muter_id: me.id, muted_id: loud.id });

    // Removing a mute that had already lapsed announces nothing: it was not muting any more.
    const lapsed = await h.newUser();
    await h.api('POST', `/api/v1/users/${lapsed.id}/mute`, { token: me.token, body: { duration_seconds: 60 } });
    await h.db.updateTable('mutes').set({ expires_at: sql`now() - interval '1 second'` }).where('muter_id', '=', me.id).where('muted_id', '=', lapsed.id).execute();
    expect((await h.api('DELETE', `/api/v1/users/${lapsed.id}/mute`, { token: me.token })).status).toBe(204);
    expect(await h.outboxEvents('UserUnmuted', `${me.id}:${lapsed.id}`)).toHaveLength(0);

    expect((await h.api('DELETE', `/api/v1/users/${newId()}/mute`, { token: me.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/users/${me.id}/mute`, { token: me.token })).status).toBe(400);
    expect((await h.api('DELETE', `/api/v1/users/${loud.id}/mute`)).status).toBe(401);
  });
});
