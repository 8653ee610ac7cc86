import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject, newId, sql } from '@nova/platform';
import { eventually } from '@nova/testing';
import { newUsername, startUserService, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

async function handled(eventId: string): Promise<boolean> {
  return (await sql`SELECT 1 FROM users.handled_events WHERE event_id = ${eventId}`.execute(h.db)).rows.length > 0;
}

describe("auth's UserRegistered", () => {
  it('creates the profile and default settings, visible by id and by username', async () => {
    const u = await h.newUser();
    const row = await h.db.selectFrom('profiles').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ username: u.username, username_lower: u.username.toLowerCase(), is_private: false, follower_count: 0, deleted_at: null });
    expect(await h.db.selectFrom('settings').selectAll().where('user_id', '=', u.id).executeTakeFirst()).toMatchObject({ language: 'en', who_can_message: 'everyone' });
    expect((await h.api('GET', `/api/v1/users/${u.id}`)).body.username).toBe(u.username);
    expect((await h.api('GET', `/api/v1/users/by-username/${u.username}`)).body.id).toBe(u.id);
  });

  it('is harmless when delivered again: the same event twice, or another registration event for the same account', async () => {
    const u = await h.newUser();
    await h.api('PATCH', '/api/v1/users/me', { token: u.token, body: { display_name: 'Kept' } });
    const again = await h.publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: u.id, data: { user_id: u.id, username: u.username } });
    // The same envelope under another message id gets past JetStream's de-duplication: the consumer's own
    // record of handled events stops it.
    await h.nats.js.publish(eventSubject(h.env.natsPrefix, 'auth', 'user', 'registered'), JSON.stringify(again), { msgID: newId() });
    await eventually(() => handled(again.id), 'the repeated UserRegistered to be handled');
    const rows = await h.db.selectFrom('profiles').selectAll().where('id', '=', u.id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.display_name).toBe('Kept');
  });
});

describe("auth's UserDeleted", () => {
  it('removes the user from profiles, lists and counts, and releases the username', async () => {
    const gone = await h.newUser(newUsername('gone'));
    const [fan1, fan2, idol, requester, target, muter] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.insertFollow(fan1.id, gone.id);
    await h.insertFollow(fan2.id, gone.id);
    await h.insertFollow(gone.id, idol.id);
    await h.insertFollow(fan1.id, idol.id);
    await h.insertFollowRequest(requester.id, gone.id);
    await h.insertFollowRequest(gone.id, target.id);
    await h.insertBlock(gone.id, target.id);
    expect((await h.api('POST', `/api/v1/users/${gone.id}/mute`, { token: muter.token })).status).toBe(200);
    expect((await h.api('GET', `/api/v1/users/${fan1.id}`)).body.following_count).toBe(2);
    expect((await h.api('GET', `/api/v1/users/${idol.id}`)).body.follower_count).toBe(2);

    await h.deleteUser(gone.id);

    for (const token of [undefined, fan1.token]) {
      expect((await h.api('GET', `/api/v1/users/${gone.id}`, token ? { token } : {})).status).toBe(404);
      expect((await h.api('GET', `/api/v1/users/by-username/${gone.username}`, token ? { token } : {})).status).toBe(404);
    }
    // Their own (still unexpired) token finds nothing either, and no profile is re-created from it.
    const me = await h.api('GET', '/api/v1/users/me', { token: gone.token });
    expect(me.status).toBe(404);
    expect((await h.api('PATCH', '/api/v1/users/me', { token: gone.token, body: { display_name: 'back' } })).status).toBe(404);

    expect((await h.api('GET', `/api/v1/users/${fan1.id}`)).body).toMatchObject({ following_count: 1, follower_count: 0 });
    expect((await h.api('GET', `/api/v1/users/${fan2.id}`)).body).toMatchObject({ following_count: 0 });
    expect((await h.api('GET', `/api/v1/users/${idol.id}`)).body).toMatchObject({ follower_count: 1 });
    const columns = { follows: ['follower_id', 'followee_id'], follow_requests: ['requester_id', 'target_id'], blocks: ['blocker_id', 'blocked_id'], mutes: ['muter_id', 'muted_id'] } as const;
    const mentions = async (table: keyof typeof columns) => {
      const [a, b] = columns[table];
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(`users.${table}`)} WHERE ${sql.ref(a)} = ${gone.id} OR ${sql.ref(b)} = ${gone.id}`.execute(h.db);
      return rows[0]!.n;
    };
    for (const table of ['follows', 'follow_requests', 'blocks', 'mutes'] as const) expect(await mentions(table), table).toBe(0);

    const row = await h.db.selectFrom('profiles').selectAll().where('id', '=', gone.id).executeTakeFirstOrThrow();
    expect(row.deleted_by).toBe(gone.id);
    expect(row.deleted_at).toBeInstanceOf(Date);

    // The username is free for a new account.
    const successor = await h.newUser(gone.username.toUpperCase());
    expect((await h.api('GET', `/api/v1/users/by-username/${gone.username}`)).body.id).toBe(successor.id);
  });

  it('is harmless for an account that never had a profile, and when delivered twice', async () => {
    const stranger = newId();
    const e = await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: stranger, data: { user_id: stranger, deleted_by: stranger } });
    await eventually(() => handled(e.id), 'UserDeleted of an unknown account to be handled');
    // Its UserRegistered arriving late (another consumer) must not bring the account back.
    const late = await h.publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: stranger, data: { user_id: stranger, username: 'late_arrival' } });
    await eventually(() => handled(late.id), 'the late UserRegistered to be handled');
    expect((await h.api('GET', `/api/v1/users/${stranger}`)).status).toBe(404);
    expect((await h.api('GET', '/api/v1/users/by-username/late_arrival')).status).toBe(404);

    const u = await h.newUser();
    await h.deleteUser(u.id);
    const first = await h.db.selectFrom('profiles').select('deleted_at').where('id', '=', u.id).executeTakeFirstOrThrow();
    const again = await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: u.id, data: { user_id: u.id, deleted_by: u.id } });
    await eventually(() => handled(again.id), 'the second UserDeleted to be handled');
    const second = await h.db.selectFrom('profiles').select('deleted_at').where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(second.deleted_at).toEqual(first.deleted_at);
  });
});
