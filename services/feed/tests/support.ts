import { contentService } from '@nova/content';
import type { EventEnvelope } from '@nova/platform';
import { eventually, startPlatform, type ApiResponse, type PlatformHarness, type TestUser } from '@nova/testing';
import { userService } from '@nova/user';
import { feedService } from '../src/index.js';
import type { FeedDb } from '../src/db/schema.js';

export type { TestUser } from '@nova/testing';

/**
 * The feed's integration-test harness: feed, content and user in one process on the real PostgreSQL, Redis
 * and NATS of an isolated environment. Posts, likes, follows, blocks and mutes go through content's and the
 * user service's real HTTP APIs, so the feed learns of them from their real events.
 */
export interface FeedHarness extends PlatformHarness<FeedDb> {
  /** Creates a post through content's API; returns its id. */
  post(author: TestUser, body?: { text?: string; visibility?: 'public' | 'followers' | 'private'; reply_to?: string }): Promise<string>;
  /** A page of `reader`'s home feed (fails the test on an HTTP error). */
  feed(reader: TestUser, query?: { mode?: 'ranked' | 'latest'; limit?: number; cursor?: string }): Promise<{ items: FeedItemJson[]; next_cursor: string | null }>;
  /** The post ids of the first page (limit 100) of `reader`'s feed. */
  feedIds(reader: TestUser, mode?: 'ranked' | 'latest'): Promise<string[]>;
  /** Waits until `reader`'s feed (re-read every 200 ms, within the per-user rate limit) satisfies `ok`. */
  feedUntil(reader: TestUser, ok: (ids: string[]) => boolean, what: string, mode?: 'ranked' | 'latest'): Promise<string[]>;
  /** Waits until the feed's read model has seen a post (its PostCreated was consumed). */
  projected(postId: string): Promise<void>;
  /** Waits until fan-out of a post completed (its FeedUpdated is in the outbox); returns the event. */
  fannedOut(postId: string): Promise<EventEnvelope<any>>;
  /** A new user who follows `authors` (as the read model knows) and has opened their feed: an active reader, whom fan-out reaches. */
  reader(...authors: TestUser[]): Promise<TestUser>;
  /** Waits until the read model knows `a` follows `b` (or no longer does, with `present` false). */
  followProjected(a: TestUser, b: TestUser, present?: boolean): Promise<void>;
}

export interface FeedItemJson {
  post: { id: string; author_id: string; text: string; visibility: string; like_count: number; comment_count: number };
  author: { id: string; username: string; is_private: boolean };
  reason: 'own' | 'following' | 'repost' | 'trending';
  reposted_by: string | null;
  score: number;
}

function expectOk(res: ApiResponse, what: string): void {
  if (res.status < 200 || res.status > 299) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
}

export async function startFeed(overrides: Record<string, string> = {}): Promise<FeedHarness> {
  const h = await startPlatform<FeedDb>({ services: [feedService, contentService, userService], overrides });
  let counter = 0;

  const feed: FeedHarness['feed'] = async (reader, query = {}) => {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    const res = await h.api('GET', `/api/v1/feed${qs ? `?${qs}` : ''}`, { token: reader.token });
    expectOk(res, `feed of ${reader.username}`);
    return res.body;
  };
  const feedIds: FeedHarness['feedIds'] = async (reader, mode = 'ranked') => (await feed(reader, { mode, limit: 100 })).items.map((i) => i.post.id);
  const followProjected: FeedHarness['followProjected'] = async (a, b, present = true) => {
    await eventually(
      async () => ((await h.db.selectFrom('follows').select('follower_id').where('follower_id', '=', a.id).where('followee_id', '=', b.id).executeTakeFirst()) !== undefined) === present,
      `${a.username} ${present ? 'follows' : 'no longer follows'} ${b.username} in the feed's read model`,
    );
  };

  return {
    ...h,
    async post(author, body = {}) {
      counter += 1;
      const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text: body.text ?? `post ${counter} by ${author.username}`, visibility: body.visibility ?? 'public', ...(body.reply_to ? { reply_to: body.reply_to } : {}) } });
      expectOk(res, `${author.username} posts`);
      return res.body.id as string;
    },
    feed,
    feedIds,
    async feedUntil(reader, ok, what, mode = 'ranked') {
      return eventually(async () => {
        const ids = await feedIds(reader, mode);
        return ok(ids) ? ids : undefined;
      }, what, 10_000, 200);
    },
    async projected(postId) {
      await eventually(async () => (await h.db.selectFrom('posts').select('id').where('id', '=', postId).executeTakeFirst()) !== undefined, `post ${postId} in the feed's read model`);
    },
    async fannedOut(postId) {
      return eventually(async () => (await h.outboxEvents('FeedUpdated', postId))[0], `fan-out of ${postId}`);
    },
    followProjected,
    async reader(...authors) {
      const r = await h.newUser();
      for (const a of authors) {
        await h.follow(r, a);
        await followProjected(r, a);
      }
      await feed(r);
      return r;
    },
  };
}
