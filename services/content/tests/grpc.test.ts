import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, encodeCursor, newId, sql, type GrpcClient } from '@nova/platform';
import { contentV1 } from '@nova/proto';
import type { PostVisibility } from '../src/db/schema.js';
import { startContentService, type ContentHarness } from './support.js';

type Client = GrpcClient<contentV1.ContentServiceClient>;

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

describe('nova.content.v1.ContentService (plaintext, APP_ENV=test)', () => {
  let h: ContentHarness;
  let grpc: Client;

  beforeAll(async () => {
    h = await startContentService();
    grpc = createGrpcClient(contentV1.ContentServiceClient, {
      target: `127.0.0.1:${h.platform.grpcPort}`,
      appEnv: 'test',
      tls: { enabled: false },
      breaker: createBreaker({ dependency: 'content', metrics: createMetrics({ defaultMetrics: false }) }),
    });
  });
  afterAll(async () => {
    grpc?.close();
    await h?.stop();
  });

  /** A post straight into the table, `secondsAgo` back (so order is known). */
  async function insertPost(authorId: string, opts: { visibility?: PostVisibility; text?: string; secondsAgo?: number; deleted?: boolean } = {}): Promise<string> {
    const id = newId();
    const at = sql<Date>`now() - ${`${opts.secondsAgo ?? 0} seconds`}::interval`;
    await h.db
      .insertInto('posts')
      .values({ id, author_id: authorId, text: opts.text ?? `post ${id}`, visibility: opts.visibility ?? 'public', reply_to_id: null, quote_of_id: null, idempotency_key: null, created_at: at, updated_at: at, ...(opts.deleted ? { deleted_at: new Date(), deleted_by: authorId } : {}) })
      .execute();
    return id;
  }

  it('GetPost returns a live post (unset optionals absent); unknown, deleted and invalid ids fail', async () => {
    const author = newId();
    const id = await insertPost(author, { text: 'hello #nova', visibility: 'followers' });
    const { post } = await grpc.call(grpc.stub.getPost, { id: id.toUpperCase() });
    expect(post).toEqual({
      id,
      author_id: author,
      text: 'hello #nova',
      media_ids: [],
      visibility: 'followers',
      like_count: 0,
      comment_count: 0,
      repost_count: 0,
      bookmark_count: 0,
      quote_count: 0,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const gone = await insertPost(author, { deleted: true });
    for (const missing of [newId(), gone]) {
      const err = await failure(grpc.call(grpc.stub.getPost, { id: missing }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.grpcStatus).toBe(GrpcStatus.NOT_FOUND);
    }
    expect((await failure(grpc.call(grpc.stub.getPost, { id: 'nope' }))).code).toBe('VALIDATION_FAILED');
  });

  it('GetPostsByIds keeps the order asked, once per id, without unknown or deleted ids; at most 500', async () => {
    const author = newId();
    const [a, b, c] = [await insertPost(author), await insertPost(author, { visibility: 'private' }), await insertPost(author)];
    const d = await insertPost(author, { deleted: true });
    const { posts } = await grpc.call(grpc.stub.getPostsByIds, { ids: [c, newId(), a, d, b.toUpperCase(), c] });
    expect(posts.map((p) => p.id)).toEqual([c, a, b]);
    expect((await grpc.call(grpc.stub.getPostsByIds, { ids: [] })).posts).toEqual([]);
    const many = Array.from({ length: 500 }, () => newId());
    many[7] = a;
    expect((await grpc.call(grpc.stub.getPostsByIds, { ids: many })).posts.map((p) => p.id)).toEqual([a]);
    expect((await failure(grpc.call(grpc.stub.getPostsByIds, { ids: [...many, newId()] }))).code).toBe('VALIDATION_FAILED');
    expect((await failure(grpc.call(grpc.stub.getPostsByIds, { ids: [a, 'x'] }))).message).toContain('ids[1]');
  });

  it('GetPostsByAuthor pages newest first by cursor, without deleted posts', async () => {
    const author = newId();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await insertPost(author, { secondsAgo: 100 - i }));
    await insertPost(author, { deleted: true });
    await insertPost(newId());
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = await grpc.call(grpc.stub.getPostsByAuthor, { author_id: author, cursor, limit: 3 });
      expect(page.posts.length).toBeLessThanOrEqual(3);
      seen.push(...page.posts.map((p) => p.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== '' && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
    expect((await grpc.call(grpc.stub.getPostsByAuthor, { author_id: author, cursor: '', limit: 0 })).posts).toHaveLength(7);
    expect((await grpc.call(grpc.stub.getPostsByAuthor, { author_id: newId(), cursor: '', limit: 0 })).posts).toEqual([]);
    expect((await failure(grpc.call(grpc.stub.getPostsByAuthor, { author_id: author, cursor: '', limit: 101 }))).code).toBe('VALIDATION_FAILED');
    expect((await failure(grpc.call(grpc.stub.getPostsByAuthor, { author_id: author, cursor: encodeCursor(['yesterday', author]), limit: 3 }))).code).toBe('VALIDATION_FAILED');
  });

  it('CheckPostVisible applies visibility, private accounts and blocks both ways', async () => {
    const [alice, fan, stranger, enemy] = await Promise.all([h.newUser(), h.newUser(), h.newUser(), h.newUser()]);
    await h.follow(fan, alice);
    const pub = await insertPost(alice.id, { visibility: 'public' });
    const fol = await insertPost(alice.id, { visibility: 'followers' });
    const priv = await insertPost(alice.id, { visibility: 'private' });
    const gone = await insertPost(alice.id, { deleted: true });
    const visible = async (viewer_id: string, post_id: string) => (await grpc.call(grpc.stub.checkPostVisible, { viewer_id, post_id })).visible;
    const row = async (viewer: string) => [await visible(viewer, pub), await visible(viewer, fol), await visible(viewer, priv), await visible(viewer, gone)];

    expect(await row(alice.id)).toEqual([true, true, true, false]);
    expect(await row(fan.id)).toEqual([true, true, false, false]);
    expect(await row(stranger.id)).toEqual([true, false, false, false]);
    expect(await row('')).toEqual([true, false, false, false]);
    expect(await visible(stranger.id, newId())).toBe(false);

    await h.block(enemy, alice);
    expect(await row(enemy.id)).toEqual([false, false, false, false]);
    await h.makePrivate(alice);
    expect(await row(stranger.id)).toEqual([false, false, false, false]);
    expect(await row(fan.id)).toEqual([true, true, false, false]);
    expect((await failure(grpc.call(grpc.stub.checkPostVisible, { viewer_id: 'x', post_id: pub }))).code).toBe('VALIDATION_FAILED');
  });
});
