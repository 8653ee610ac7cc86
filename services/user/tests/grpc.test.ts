import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, encodeCursor, generateDevCertificates, newId, sql, type ClientTlsOptions, type GrpcClient } from '@nova/platform';
import { userV1 } from '@nova/proto';
import { newUsername, startUserService, type UserHarness } from './support.js';

type Client = GrpcClient<userV1.UserServiceClient>;

function client(address: string, tls: ClientTlsOptions = { enabled: false }, appEnv: 'test' | 'production' = 'test'): Client {
  return createGrpcClient(userV1.UserServiceClient, {
    target: address,
    appEnv,
    tls,
    breaker: createBreaker({ dependency: 'user', metrics: createMetrics({ defaultMetrics: false }) }),
  });
}

/** The AppError a call rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

/** Profiles inserted straight into the table (the consumer path is covered by `newUser`). */
async function insertProfiles(h: UserHarness, n: number): Promise<string[]> {
  const rows = Array.from({ length: n }, () => {
    const username = newUsername('g');
    return { id: newId(), username, username_lower: username.toLowerCase() };
  });
  await h.db.insertInto('profiles').values(rows).execute();
  return rows.map((r) => r.id);
}

/** Follows of `followee` at exact (microsecond) times, straight into the table. */
async function insertFollowsAt(h: UserHarness, followee: string, follows: { follower: string; at: string }[]): Promise<void> {
  for (const f of follows) {
    await sql`INSERT INTO users.follows (follower_id, followee_id, created_at) VALUES (${f.follower}, ${followee}, ${f.at}::timestamptz)`.execute(h.db);
  }
}

async function allFollowers(grpc: Client, userId: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = '';
  let pages = 0;
  do {
    const page = await grpc.call(grpc.stub.getFollowers, { user_id: userId, cursor, limit });
    expect(page.followers.length).toBeLessThanOrEqual(limit);
    ids.push(...page.followers.map((f) => f.user_id));
    cursor = page.next_cursor;
    pages++;
    expect(pages).toBeLessThan(1_000);
  } while (cursor !== '');
  return { ids, pages };
}

describe('nova.user.v1.UserService (plaintext, APP_ENV=test)', () => {
  let h: UserHarness;
  let grpc: Client;

  beforeAll(async () => {
    h = await startUserService();
    grpc = client(`127.0.0.1:${h.platform.grpcPort}`);
  });
  afterAll(async () => {
    grpc?.close();
    await h?.stop();
  });

  it('GetProfile returns the live profile (unset fields absent); unknown and deleted users are NOT_FOUND', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const media = newId();
    await h.db.updateTable('profiles').set({ display_name: 'Alice A.', bio: 'hello', avatar_media_id: media, is_private: true }).where('id', '=', alice.id).execute();
    await h.insertFollow(bob.id, alice.id);

    const { profile } = await grpc.call(grpc.stub.getProfile, { id: alice.id.toUpperCase() });
    expect(profile).toEqual({
      id: alice.id,
      username: alice.username,
      display_name: 'Alice A.',
      bio: 'hello',
      avatar_media_id: media,
      is_private: true,
      follower_count: 1,
      following_count: 0,
      post_count: 0,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect(profile?.website).toBeUndefined();
    expect((await grpc.call(grpc.stub.getProfile, { id: bob.id })).profile).toMatchObject({ username: bob.username, is_private: false, following_count: 1 });

    await h.deleteUser(bob.id);
    for (const id of [newId(), bob.id]) {
      const err = await failure(grpc.call(grpc.stub.getProfile, { id }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.grpcStatus).toBe(GrpcStatus.NOT_FOUND);
    }
    // Bob's deletion corrected Alice's follower count.
    expect((await grpc.call(grpc.stub.getProfile, { id: alice.id })).profile?.follower_count).toBe(0);
  });

  it('GetProfilesByIds keeps the order asked, once per id, without unknown or deleted ids; at most 500', async () => {
    const [a, b, c, d] = await insertProfiles(h, 4);
    await h.deleteUser(d!);
    const { profiles } = await grpc.call(grpc.stub.getProfilesByIds, { ids: [c!, newId(), a!, d!, b!.toUpperCase(), c!] });
    expect(profiles.map((p) => p.id)).toEqual([c, a, b]);
    expect((await grpc.call(grpc.stub.getProfilesByIds, { ids: [] })).profiles).toEqual([]);

    const many = Array.from({ length: 500 }, () => newId());
    many[123] = b!;
    expect((await grpc.call(grpc.stub.getProfilesByIds, { ids: many })).profiles.map((p) => p.id)).toEqual([b]);
    const tooMany = await failure(grpc.call(grpc.stub.getProfilesByIds, { ids: [...many, newId()] }));
    expect(tooMany.code).toBe('VALIDATION_FAILED');
    expect(tooMany.message).toContain('at most 500 ids');
  });

  it('GetFollowers pages newest first without gaps or duplicates, ties broken by follower id to the microsecond', async () => {
    const [star] = await insertProfiles(h, 1);
    const fans = await insertProfiles(h, 61);
    // 20 distinct seconds, three follows each: two at the same instant, one a microsecond later (the same
    // millisecond, which a JS Date cannot tell apart) — and one follow alone at the newest instant.
    const follows = fans.slice(0, 60).map((follower, i) => {
      const second = Math.floor(i / 3);
      const micro = i % 3 === 2 ? '000001' : '000000';
      return { follower, at: `2024-05-01T10:00:${String(second).padStart(2, '0')}.${micro}Z` };
    });
    follows.push({ follower: fans[60]!, at: '2024-05-01T11:00:00.000000Z' });
    await insertFollowsAt(h, star!, follows);
    const expected = [...follows].sort((x, y) => (x.at === y.at ? (x.follower < y.follower ? -1 : 1) : x.at < y.at ? 1 : -1)).map((f) => f.follower);
    expect(expected[0]).toBe(fans[60]);

    for (const limit of [1, 2, 3, 7, 61, 1000]) {
      const { ids, pages } = await allFollowers(grpc, star!, limit);
      expect(ids, `limit ${limit}`).toEqual(expected);
      // A full last page knows it is the last (one row more is read to tell), so no empty page trails.
      expect(pages).toBe(Math.ceil(61 / limit));
    }
    // The default page (500) holds them all, with the exact follow time.
    const first = await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: '', limit: 0 });
    expect(first.followers).toHaveLength(61);
    expect(first.next_cursor).toBe('');
    expect(first.followers[0]).toEqual({ user_id: fans[60], followed_at: '2024-05-01T11:00:00.000000Z' });
    expect(first.followers.map((f) => f.followed_at)).toContain('2024-05-01T10:00:19.000001Z');
  });

  it('GetFollowers: a page boundary stays put while new follows arrive, and an exact last page has no cursor', async () => {
    const [star] = await insertProfiles(h, 1);
    const fans = await insertProfiles(h, 12);
    for (const fan of fans.slice(0, 10)) await h.insertFollow(fan, star!);
    const page1 = await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: '', limit: 4 });
    // Two people follow in the middle of the walk: newer than every page, so the rest of the walk is unchanged.
    await h.insertFollow(fans[10]!, star!);
    await h.insertFollow(fans[11]!, star!);
    const rest = [];
    let cursor = page1.next_cursor;
    while (cursor !== '') {
      const page = await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor, limit: 3 });
      rest.push(...page.followers.map((f) => f.user_id));
      cursor = page.next_cursor;
    }
    const walked = [...page1.followers.map((f) => f.user_id), ...rest];
    expect(walked).toEqual([...fans.slice(0, 10)].reverse());
    // 12 followers in pages of 6: the second page is the last one and says so.
    const p1 = await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: '', limit: 6 });
    const p2 = await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: p1.next_cursor, limit: 6 });
    expect(p1.next_cursor).not.toBe('');
    expect(p2.followers).toHaveLength(6);
    expect(p2.next_cursor).toBe('');
  });

  it('GetFollowers leaves deleted followers out; a deleted or unknown user is NOT_FOUND, one without followers an empty page', async () => {
    const star = await h.newUser();
    const [lonely] = await insertProfiles(h, 1);
    const fans = await Promise.all([h.newUser(), h.newUser(), h.newUser()]);
    for (const fan of fans) await h.insertFollow(fan.id, star.id);
    const ids = async () => (await grpc.call(grpc.stub.getFollowers, { user_id: star.id, cursor: '', limit: 10 })).followers.map((f) => f.user_id);
    expect(new Set(await ids())).toEqual(new Set(fans.map((f) => f.id)));

    // Deleted the way auth does it (UserDeleted): gone from the list and the count.
    await h.deleteUser(fans[0]!.id);
    expect(new Set(await ids())).toEqual(new Set([fans[1]!.id, fans[2]!.id]));
    // Soft-deleted while its follow rows are still there (before the cleanup): still left out.
    await h.db.updateTable('profiles').set({ deleted_at: new Date(), deleted_by: fans[1]!.id }).where('id', '=', fans[1]!.id).execute();
    expect(await ids()).toEqual([fans[2]!.id]);

    expect(await grpc.call(grpc.stub.getFollowers, { user_id: lonely!, cursor: '', limit: 10 })).toEqual({ followers: [], next_cursor: '' });
    await h.deleteUser(star.id);
    for (const user_id of [star.id, newId()]) {
      expect((await failure(grpc.call(grpc.stub.getFollowers, { user_id, cursor: '', limit: 10 }))).code).toBe('NOT_FOUND');
    }
  });

  it('GetFollowers refuses limits outside 1..1000 and cursors it did not make', async () => {
    const [star, fan] = await insertProfiles(h, 2);
    await h.insertFollow(fan!, star!);
    expect((await grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: '', limit: 1000 })).followers).toHaveLength(1);
    for (const limit of [1001, -1]) {
      const err = await failure(grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor: '', limit }));
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toContain('limit');
    }
    const bad = ['garbage', encodeCursor(['2024-05-01T10:00:00.000000Z']), encodeCursor(['yesterday', fan!]), encodeCursor(['2024-05-01T10:00:00.000000Z', "'; DROP TABLE users.follows; --"]), encodeCursor([1, 2])];
    for (const cursor of bad) {
      const err = await failure(grpc.call(grpc.stub.getFollowers, { user_id: star!, cursor, limit: 10 }));
      expect(err.code, cursor).toBe('VALIDATION_FAILED');
      expect(err.grpcStatus).toBe(GrpcStatus.INVALID_ARGUMENT);
    }
  });

  it('IsFollowing is directional and counts approved follows only, not pending requests', async () => {
    const [a, b, c] = await insertProfiles(h, 3);
    await h.insertFollow(a!, b!);
    await h.db.insertInto('follow_requests').values({ requester_id: c!, target_id: b! }).execute();
    const following = async (follower_id: string, followee_id: string) => (await grpc.call(grpc.stub.isFollowing, { follower_id, followee_id })).following;
    expect(await following(a!, b!)).toBe(true);
    expect(await following(b!.toUpperCase(), a!)).toBe(false);
    expect(await following(c!, b!)).toBe(false);
    expect(await following(a!, a!)).toBe(false);
    expect(await following(newId(), b!)).toBe(false);
  });

  it('FilterFollowed keeps the candidates the follower follows (approved only), in order, once; at most 500', async () => {
    const [a, b, c, d, e] = await insertProfiles(h, 5);
    await h.insertFollow(a!, b!);
    await h.insertFollow(a!, d!);
    await h.insertFollow(c!, a!);
    await h.db.insertInto('follow_requests').values({ requester_id: a!, target_id: e! }).execute();
    const filter = async (follower_id: string, candidate_ids: string[]) => (await grpc.call(grpc.stub.filterFollowed, { follower_id, candidate_ids })).followed_ids;
    expect(await filter(a!, [d!, c!, b!.toUpperCase(), e!, d!, newId()])).toEqual([d, b]);
    expect(await filter(b!, [a!, c!])).toEqual([]);
    expect(await filter(a!, [])).toEqual([]);
    const tooMany = await failure(filter(a!, Array.from({ length: 501 }, () => newId())));
    expect(tooMany.code).toBe('VALIDATION_FAILED');
    expect((await failure(filter(a!, [b!, 'nope']))).message).toContain('candidate_ids[1] must be a UUID');
  });

  it('GetProfilesByUsernames resolves usernames case-insensitively, without unknown, deleted or impossible ones', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const gone = await h.newUser();
    await h.deleteUser(gone.id);
    const res = await grpc.call(grpc.stub.getProfilesByUsernames, {
      usernames: [bob.username.toUpperCase(), 'no_such_user_xyz', alice.username, gone.username, 'a', 'x y z', bob.username],
    });
    expect(res.profiles.map((p) => p.id)).toEqual([bob.id, alice.id]);
    expect(res.profiles[0]).toMatchObject({ username: bob.username, is_private: false });
    expect((await failure(grpc.call(grpc.stub.getProfilesByUsernames, { usernames: Array.from({ length: 501 }, (_, i) => `user_${i}`) }))).code).toBe('VALIDATION_FAILED');
  });

  it('GetFollowing pages whom a user follows, newest follow first, without deleted followees; NOT_FOUND for a missing user', async () => {
    const [me, a, b, c, d] = await insertProfiles(h, 5);
    await insertFollowsAt(h, a!, [{ follower: me!, at: '2026-01-01T00:00:01.000001Z' }]);
    await insertFollowsAt(h, b!, [{ follower: me!, at: '2026-01-01T00:00:03.000000Z' }]);
    await insertFollowsAt(h, c!, [{ follower: me!, at: '2026-01-01T00:00:02.000000Z' }]);
    await insertFollowsAt(h, d!, [{ follower: me!, at: '2026-01-01T00:00:02.000000Z' }]);
    const tie = [c!, d!].sort();
    const ids: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = await grpc.call(grpc.stub.getFollowing, { user_id: me!, cursor, limit: 1 });
      ids.push(...page.following.map((f) => f.user_id));
      if (pages === 0) expect(page.following[0]?.followed_at).toBe('2026-01-01T00:00:03.000000Z');
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== '' && pages < 10);
    expect(ids).toEqual([b!, ...tie, a!]);
    await h.db.updateTable('profiles').set({ deleted_at: new Date() }).where('id', '=', b!).execute();
    expect((await grpc.call(grpc.stub.getFollowing, { user_id: me!, cursor: '', limit: 0 })).following.map((f) => f.user_id)).toEqual([...tie, a!]);
    expect((await grpc.call(grpc.stub.getFollowing, { user_id: a!, cursor: '', limit: 0 })).following).toEqual([]);
    expect((await failure(grpc.call(grpc.stub.getFollowing, { user_id: newId(), cursor: '', limit: 0 }))).code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.getFollowing, { user_id: me!, cursor: 'bad', limit: 0 }))).code).toBe('VALIDATION_FAILED');
  });

  it('GetRelationship reports every edge between two users from the first one’s side', async () => {
    const [a, b, c, d] = await insertProfiles(h, 4);
    await h.insertFollow(a!, b!);
    await h.insertFollow(b!, a!);
    await h.db.insertInto('mutes').values({ muter_id: a!, muted_id: b! }).execute();
    await h.db.insertInto('follow_requests').values({ requester_id: a!, target_id: c! }).execute();
    await h.db.insertInto('blocks').values({ blocker_id: d!, blocked_id: a! }).execute();
    // An expired mute is no mute.
    await h.db.insertInto('mutes').values({ muter_id: c!, muted_id: a!, expires_at: new Date(Date.now() - 1_000) }).execute();
    await h.db.insertInto('mutes').values({ muter_id: a!, muted_id: d!, expires_at: new Date(Date.now() + 3_600_000) }).execute();

    const rel = (x: string, y: string) => grpc.call(grpc.stub.getRelationship, { a: x, b: y });
    const none = { following: false, followed_by: false, requested: false, requested_by: false, blocking: false, blocked_by: false, muting: false };
    expect(await rel(a!, b!)).toEqual({ ...none, following: true, followed_by: true, muting: true });
    expect(await rel(b!, a!)).toEqual({ ...none, following: true, followed_by: true });
    expect(await rel(a!, c!)).toEqual({ ...none, requested: true });
    expect(await rel(c!, a!)).toEqual({ ...none, requested_by: true });
    expect(await rel(a!, d!)).toEqual({ ...none, blocked_by: true, muting: true });
    expect(await rel(d!.toUpperCase(), a!)).toEqual({ ...none, blocking: true });
    expect(await rel(b!, c!)).toEqual(none);
    expect(await rel(a!, newId())).toEqual(none);
  });

  it('IsBlocked answers for either direction; ListBlocked lists both directions', async () => {
    const [a, b, c, d, e] = await insertProfiles(h, 5);
    await h.db.insertInto('blocks').values([
      { blocker_id: a!, blocked_id: b! },
      { blocker_id: c!, blocked_id: a! },
      { blocker_id: a!, blocked_id: d! },
    ]).execute();
    const blocked = async (x: string, y: string) => (await grpc.call(grpc.stub.isBlocked, { a: x, b: y })).blocked;
    expect(await blocked(a!, b!)).toBe(true);
    expect(await blocked(b!, a!)).toBe(true);
    expect(await blocked(a!, c!.toUpperCase())).toBe(true);
    expect(await blocked(b!, c!)).toBe(false);
    expect(await blocked(a!, e!)).toBe(false);
    expect(await blocked(a!, a!)).toBe(false);

    const list = await grpc.call(grpc.stub.listBlocked, { user_id: a! });
    expect(new Set(list.blocking)).toEqual(new Set([b, d]));
    expect(list.blocked_by).toEqual([c]);
    expect(await grpc.call(grpc.stub.listBlocked, { user_id: b! })).toEqual({ blocking: [], blocked_by: [a] });
    expect(await grpc.call(grpc.stub.listBlocked, { user_id: e! })).toEqual({ blocking: [], blocked_by: [] });
  });

  it('a deleted user leaves every answer: follows, relationships and block lists', async () => {
    const alice = await h.newUser();
    const mallory = await h.newUser();
    await h.insertFollow(mallory.id, alice.id);
    await h.insertFollow(alice.id, mallory.id);
    await h.db.insertInto('blocks').values({ blocker_id: mallory.id, blocked_id: alice.id }).execute();
    expect((await grpc.call(grpc.stub.isBlocked, { a: alice.id, b: mallory.id })).blocked).toBe(true);

    await h.deleteUser(mallory.id);
    expect((await grpc.call(grpc.stub.getFollowers, { user_id: alice.id, cursor: '', limit: 10 })).followers).toEqual([]);
    expect((await grpc.call(grpc.stub.isFollowing, { follower_id: alice.id, followee_id: mallory.id })).following).toBe(false);
    expect((await grpc.call(grpc.stub.isBlocked, { a: alice.id, b: mallory.id })).blocked).toBe(false);
    expect(await grpc.call(grpc.stub.listBlocked, { user_id: alice.id })).toEqual({ blocking: [], blocked_by: [] });
    expect(Object.values(await grpc.call(grpc.stub.getRelationship, { a: alice.id, b: mallory.id })).every((v) => v === false)).toBe(true);
    expect((await grpc.call(grpc.stub.getProfile, { id: alice.id })).profile).toMatchObject({ follower_count: 0, following_count: 0 });
  });

  it('GetMessagingSettings gives who may message each user and their receipt and activity switches; defaults for untouched users; deleted and unknown users absent', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const gone = await h.newUser();
    const patch = await h.api('PATCH', '/api/v1/users/me/settings', { token: alice.token, body: { who_can_message: 'followers', privacy: { read_receipts: false } } });
    expect(patch.status).toBe(200);
    expect((await h.api('PATCH', '/api/v1/users/me/settings', { token: gone.token, body: { who_can_message: 'nobody' } })).status).toBe(200);
    await h.deleteUser(gone.id);

    const res = await grpc.call(grpc.stub.getMessagingSettings, { user_ids: [bob.id, alice.id.toUpperCase(), gone.id, newId(), bob.id] });
    expect(res.settings).toEqual([
      { user_id: bob.id, who_can_message: 'everyone', read_receipts: true, show_activity_status: true },
      { user_id: alice.id, who_can_message: 'followers', read_receipts: false, show_activity_status: true },
    ]);
    expect((await failure(grpc.call(grpc.stub.getMessagingSettings, { user_ids: [alice.id, 'x'] }))).code).toBe('VALIDATION_FAILED');
    expect((await failure(grpc.call(grpc.stub.getMessagingSettings, { user_ids: Array.from({ length: 501 }, () => newId()) }))).code).toBe('VALIDATION_FAILED');
  });

  it('refuses ids that are not UUIDs with INVALID_ARGUMENT (VALIDATION_FAILED), in every method', async () => {
    const ok = newId();
    const calls: [string, () => Promise<unknown>][] = [
      ['id', () => grpc.call(grpc.stub.getProfile, { id: 'alice' })],
      ['id', () => grpc.call(grpc.stub.getProfile, { id: '' })],
      ['ids[1]', () => grpc.call(grpc.stub.getProfilesByIds, { ids: [ok, 'nope'] })],
      ['user_id', () => grpc.call(grpc.stub.getFollowers, { user_id: "' OR 1=1 --", cursor: '', limit: 10 })],
      ['followee_id', () => grpc.call(grpc.stub.isFollowing, { follower_id: ok, followee_id: `${ok}x` })],
      ['follower_id', () => grpc.call(grpc.stub.isFollowing, { follower_id: '', followee_id: ok })],
      ['b', () => grpc.call(grpc.stub.getRelationship, { a: ok, b: '1234' })],
      ['a', () => grpc.call(grpc.stub.isBlocked, { a: 'x', b: ok })],
      ['user_id', () => grpc.call(grpc.stub.listBlocked, { user_id: 'me' })],
    ];
    for (const [field, call] of calls) {
      const err = await failure(call());
      expect(err.code, field).toBe('VALIDATION_FAILED');
      expect(err.grpcStatus).toBe(GrpcStatus.INVALID_ARGUMENT);
    }
    expect((await failure(calls[2]![1]())).message).toContain('ids[1] must be a UUID');
    expect((await failure(calls[4]![1]())).message).toContain('followee_id must be a UUID');
  });
});

describe('nova.user.v1.UserService under mTLS (APP_ENV=production)', () => {
  let h: UserHarness;
  let dir: string;
  const clients: Client[] = [];
  const as = (service: string | null) => {
    const tls: ClientTlsOptions = { enabled: true, caCertPath: join(dir, 'ca.crt'), ...(service ? { clientCertPath: join(dir, `${service}.crt`), clientKeyPath: join(dir, `${service}.key`) } : {}) };
    const c = client(`localhost:${h.platform.grpcPort}`, tls, 'production');
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-user-certs-'));
    await generateDevCertificates(dir, { services: ['user', 'feed', 'messaging'] });
    h = await startUserService({
      APP_ENV: 'production',
      GRPC_TLS_ENABLED: 'true',
      GRPC_TLS_CA_CERT_PATH: join(dir, 'ca.crt'),
      GRPC_TLS_SERVER_CERT_PATH: join(dir, 'server.crt'),
      GRPC_TLS_SERVER_KEY_PATH: join(dir, 'server.key'),
      GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
      GRPC_TLS_CLIENT_CERT_PATH: join(dir, 'user.crt'),
      GRPC_TLS_CLIENT_KEY_PATH: join(dir, 'user.key'),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.stop();
  });

  it('answers any verified service and refuses a caller without a client certificate', async () => {
    const u = await h.newUser();
    for (const service of ['feed', 'messaging']) {
      const c = as(service);
      expect((await c.call(c.stub.getProfile, { id: u.id })).profile?.username).toBe(u.username);
      expect((await c.call(c.stub.isBlocked, { a: u.id, b: newId() })).blocked).toBe(false);
    }
    const anonymous = as(null);
    expect((await failure(anonymous.call(anonymous.stub.getProfile, { id: u.id }))).code).toBe('DEPENDENCY_UNAVAILABLE');
  });
});
