import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, type GrpcClient } from '@nova/platform';
import { feedV1 } from '@nova/proto';
import { eventually } from '@nova/testing';
import { Timelines } from '../src/domain/timelines.js';
import { startFeed, type FeedHarness } from './support.js';

let h: FeedHarness;
let grpc: GrpcClient<feedV1.FeedServiceClient>;
let redis: Redis;
beforeAll(async () => {
  h = await startFeed({ FEED_TRENDING_REFRESH_SECONDS: '1' });
  grpc = createGrpcClient(feedV1.FeedServiceClient, {
    target: `127.0.0.1:${h.platform.grpcPort}`,
    appEnv: 'test',
    tls: { enabled: false },
    breaker: createBreaker({ dependency: 'feed', metrics: createMetrics({ defaultMetrics: false }) }),
  });
  redis = new Redis(h.platform.config.REDIS_URL, { keyPrefix: h.platform.config.REDIS_KEY_PREFIX });
});
afterAll(async () => {
  grpc?.close();
  redis?.disconnect();
  await h?.stop();
});

describe('nova.feed.v1.FeedService', () => {
  it('GetFeed pages a user\'s feed as ids with reasons; InvalidateFeed makes the next read rebuild it', async () => {
    const author = await h.newUser();
    const r = await h.newUser();
    await h.follow(r, author);
    await h.followProjected(r, author);
    const posts = [await h.post(author), await h.post(author), await h.post(r)];
    for (const p of posts) await h.projected(p);

    const first = await grpc.call(grpc.stub.getFeed, { user_id: r.id, cursor: '', limit: 2, mode: 'latest' });
    expect(first.items.map((i) => [i.post_id, i.reason])).toEqual([
      [posts[2], 'own'],
      [posts[1], 'following'],
    ]);
    expect(first.items[1]).toMatchObject({ author_id: author.id, score: 0 });
    const second = await grpc.call(grpc.stub.getFeed, { user_id: r.id, cursor: first.next_cursor, limit: 2, mode: 'latest' });
    expect(second.items.map((i) => i.post_id)).toEqual([posts[0]]);
    expect(second.next_cursor).toBe('');
    const ranked = await grpc.call(grpc.stub.getFeed, { user_id: r.id, cursor: '', limit: 10, mode: '' });
    expect(ranked.items.map((i) => i.post_id).sort()).toEqual([...posts].sort());
    expect(ranked.items.every((i) => i.score > 0)).toBe(true);

    expect(await redis.exists(Timelines.key(r.id))).toBe(1);
    await grpc.call(grpc.stub.invalidateFeed, { user_id: r.id });
    expect(await redis.exists(Timelines.key(r.id))).toBe(0);
    expect((await grpc.call(grpc.stub.getFeed, { user_id: r.id, cursor: '', limit: 10, mode: 'latest' })).items.map((i) => i.post_id)).toEqual([...posts].reverse());
  });

  it('GetTrending returns posts and hashtags by score', async () => {
    const author = await h.newUser();
    const fan = await h.newUser();
    const p = await h.post(author, { text: 'grpc #trendy' });
    await h.projected(p);
    expect((await h.api('POST', `/api/v1/posts/${p}/like`, { token: fan.token })).status).toBeLessThan(300);
    const posts = await eventually(async () => {
      const res = await grpc.call(grpc.stub.getTrending, { window: '1h', kind: 'posts', limit: 5 });
      return res.entries.length > 0 ? res.entries : undefined;
    }, 'a trending post', 10_000, 250);
    expect(posts[0]!.id).toBe(p);
    const tags = await grpc.call(grpc.stub.getTrending, { window: '1h', kind: 'hashtags', limit: 5 });
    expect(tags.entries.map((t) => t.id)).toContain('trendy');
  });

  it('refuses malformed requests with VALIDATION_FAILED', async () => {
    for (const call of [
      () => grpc.call(grpc.stub.getFeed, { user_id: 'me', cursor: '', limit: 0, mode: '' }),
      () => grpc.call(grpc.stub.getFeed, { user_id: '0190a0c4-0000-7000-8000-000000000000', cursor: '', limit: 0, mode: 'hot' }),
      () => grpc.call(grpc.stub.getFeed, { user_id: '0190a0c4-0000-7000-8000-000000000000', cursor: '', limit: 500, mode: '' }),
      () => grpc.call(grpc.stub.getTrending, { window: '2d', kind: '', limit: 0 }),
      () => grpc.call(grpc.stub.getTrending, { window: '', kind: 'people', limit: 0 }),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
    }
  });
});
