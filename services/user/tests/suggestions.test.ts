import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

async function suggested(me: TestUser, query = ''): Promise<Array<{ id: string; username: string; mutual_count: number } & Record<string, unknown>>> {
  const res = await h.api('GET', `/api/v1/users/me/suggestions${query}`, { token: me.token });
  expect(res.status).toBe(200);
  return res.body.items;
}

type Users<N extends number, Acc extends TestUser[] = []> = Acc['length'] extends N ? Acc : Users<N, [...Acc, TestUser]>;

/** Creates `n` users whose profiles were created in this order, one second apart (oldest first). */
async function usersInOrder<N extends number>(n: N): Promise<Users<N>> {
  const out: TestUser[] = [];
  for (let i = 0; i < n; i += 1) out.push(await h.newUser());
  const base = Date.now() - 3600_000;
  for (const [i, u] of out.entries()) {
    await h.db.updateTable('profiles').set({ created_at: new Date(base + i * 1000) }).where('id', '=', u.id).execute();
  }
  return out as Users<N>;
}

describe('GET /api/v1/users/me/suggestions', () => {
  it('ranks friends of friends by mutual connections, newest account first among equals', async () => {
    const me = await h.newUser();
    const [a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const [x, y, z1, z2] = await usersInOrder(4);
    for (const friend of [a, b, c]) await h.insertFollow(me.id, friend.id);
    // x: followed by a, b, c (3); y: by a, b (2); z1 and z2: by c only (1 each, z2 is newer).
    for (const [follower, followee] of [
      [a, x], [b, x], [c, x],
      [a, y], [b, y],
      [c, z1], [c, z2],
    ] as const) {
      await h.insertFollow(follower.id, followee.id);
    }
    // People my friends follow who are me, or friends I already follow, are not suggestions.
    await h.insertFollow(a.id, me.id);
    await h.insertFollow(b.id, a.id);

    const items = await suggested(me);
    expect(items.map((s) => [s.username, s.mutual_count])).toEqual([
      [x.username, 3],
      [y.username, 2],
      [z2.username, 1],
      [z1.username, 1],
    ]);
    expect(items[0]).toMatchObject({ id: x.id, follower_count: 3, following_count: 0, is_private: false });
    expect(JSON.stringify(items)).not.toContain('@example.test');

    const top2 = await suggested(me, '?limit=2');
    expect(top2.map((s) => s.id)).toEqual([x.id, y.id]);
  });

  it('leaves out the followed, the requested, the blocked either way, the muted, the deleted and those who opted out', async () => {
    const me = await h.newUser();
    const friend = await h.newUser();
    await h.insertFollow(me.id, friend.id);
    const [kept, followed, requested, iBlock, blocksMe, muted, lapsed, deleted, optedOut, privateOne] = await usersInOrder(10);
    for (const u of [kept, followed, requested, iBlock, blocksMe, muted, lapsed, deleted, optedOut, privateOne]) await h.insertFollow(friend.id, u.id);

    await h.insertFollow(me.id, followed.id);
    await h.insertFollowRequest(me.id, requested.id);
    await h.insertBlock(me.id, iBlock.id);
    await h.insertBlock(blocksMe.id, me.id);
    expect((await h.api('POST', `/api/v1/users/${muted.id}/mute`, { token: me.token })).status).toBe(200);
    expect((await h.api('POST', `/api/v1/users/${lapsed.id}/mute`, { token: me.token, body: { duration_seconds: 3600 } })).status).toBe(200);
    await h.db.updateTable('mutes').set({ expires_at: sql`now() - interval '1 second'` }).where('muter_id', '=', me.id).where('muted_id', '=', lapsed.id).execute();
    await h.deleteUser(deleted.id);
    expect((await h.api('PATCH', '/api/v1/users/me/settings', { token: optedOut.token, body: { privacy: { show_in_suggestions: false } } })).status).toBe(200);
    expect((await h.api('PATCH', '/api/v1/users/me', { token: privateOne.token, body: { is_private: true } })).status).toBe(200);

    const items = await suggested(me);
    // Private accounts may be suggested (following them sends a request); a lapsed mute hides no more.
    expect(items.map((s) => s.id)).toEqual([privateOne.id, lapsed.id, kept.id]);
    expect(items[0]!.is_private).toBe(true);

    // Opting back in, and unmuting, bring them back.
    await h.api('PATCH', '/api/v1/users/me/settings', { token: optedOut.token, body: { privacy: { show_in_suggestions: true } } });
    await h.api('DELETE', `/api/v1/users/${muted.id}/mute`, { token: me.token });
    expect((await suggested(me)).map((s) => s.id)).toEqual([privateOne.id, optedOut.id, lapsed.id, muted.id, kept.id]);
  });

  it('drops a deleted user from suggestions and stops counting their follows as mutual connections', async () => {
    const me = await h.newUser();
    const [f1, f2] = [await h.newUser(), await h.newUser()];
    const [target, other] = await usersInOrder(2);
    await h.insertFollow(me.id, f1.id);
    await h.insertFollow(me.id, f2.id);
    await h.insertFollow(f1.id, target.id);
    await h.insertFollow(f2.id, target.id);
    await h.insertFollow(f2.id, other.id);
    expect((await suggested(me)).map((s) => [s.id, s.mutual_count])).toEqual([
      [target.id, 2],
      [other.id, 1],
    ]);

    await h.deleteUser(f2.id);
    expect((await suggested(me)).map((s) => [s.id, s.mutual_count])).toEqual([[target.id, 1]]);
    await h.deleteUser(target.id);
    expect(await suggested(me)).toEqual([]);
  });

  it('is empty for someone who follows nobody, and validates limit', async () => {
    const me = await h.newUser();
    expect(await suggested(me)).toEqual([]);
    for (const limit of ['0', '51', 'ten']) {
      const res = await h.api('GET', `/api/v1/users/me/suggestions?limit=${limit}`, { token: me.token });
      expect(res.status, limit).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await h.api('GET', '/api/v1/users/me/suggestions?cursor=abc', { token: me.token })).status).toBe(400);
    expect((await h.api('GET', '/api/v1/users/me/suggestions')).status).toBe(401);
  });
});
