import { userV1 } from '@nova/proto';
import { AppError, decodePosition, encodePosition, isUuid, newId } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { StoryAudience } from '../db/schema.js';
import * as sq from '../db/queries/stories.js';

/** Longest caption, in characters. */
export const MAX_CAPTION = 500;
/** Most stories one feed answer carries (oldest dropped first per author beyond it). */
export const MAX_FEED_STORIES = 2_000;
/** Page size of GetFollowing calls while building the feed. */
const FOLLOWING_PAGE = 1_000;

export interface RequestMeta {
  correlationId?: string | null;
}

export interface StoryView {
  id: string;
  author_id: string;
  media_id: string;
  caption: string | null;
  audience: StoryAudience;
  /** The author's only: null for everyone else. */
  view_count: number | null;
  created_at: string;
  expires_at: string;
}

export interface FeedStory extends Omit<StoryView, 'view_count'> {
  view_count: number | null;
  seen: boolean;
}

export interface FeedGroup {
  author_id: string;
  /** Whether any of the group's stories is unseen by the caller (the caller's own group: false). */
  has_unseen: boolean;
  latest_at: string;
  /** Oldest first: the order they play in. */
  stories: FeedStory[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function normaliseId(id: string, field = 'id'): string {
  if (!isUuid(id)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return id.toLowerCase();
}

function toView(row: sq.StoryRow, viewerId: string): StoryView {
  return {
    id: row.id,
    author_id: row.author_id,
    media_id: row.media_id,
    caption: row.caption,
    audience: row.audience,
    view_count: row.author_id === viewerId ? row.view_count : null,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
  };
}

/** Posts a story; it expires STORY_LIFETIME_MS later (the database's clock, never the client's). Emits StoryCreated. */
export async function createStory(ctx: AppContext, authorId: string, req: { media_id: string; caption?: string | null; audience: StoryAudience }, meta: RequestMeta = {}): Promise<StoryView> {
  const me = normaliseId(authorId, 'author_id');
  const mediaId = normaliseId(req.media_id, 'media_id');
  const caption = req.caption === undefined || req.caption === null || req.caption === '' ? null : req.caption;
  if (caption !== null && [...caption].length > MAX_CAPTION) throw new AppError('VALIDATION_FAILED', `caption is at most ${MAX_CAPTION} characters`, { details: { field: 'caption' } });
  return ctx.db.transaction().execute(async (tx) => {
    const row = await sq.insertStory(tx, { id: newId(), authorId: me, mediaId, caption, audience: req.audience });
    await ctx.outbox.add(tx, {
      aggregate: 'story',
      action: 'created',
      type: 'StoryCreated',
      entityId: row.id,
      data: { story_id: row.id, author_id: me, media_id: mediaId, audience: row.audience, created_at: row.created_at.toISOString(), expires_at: row.expires_at.toISOString() },
      correlationId: meta.correlationId ?? null,
    });
    return toView(row, me);
  });
}

/**
 * Whether `viewerId` may see a live story: its author always; nobody across a block (either way); `public`:
 * anyone, but a private account's stories only to its approved followers; `followers`: approved followers;
 * `close_friends`: the people on the author's close-friends list.
 */
async function maySee(ctx: AppContext, story: sq.StoryRow, viewerId: string): Promise<boolean> {
  const author = story.author_id;
  if (author === viewerId) return true;
  if (story.audience === 'close_friends') {
    const [friend, blocked] = await Promise.all([sq.isCloseFriend(ctx.db, author, viewerId), ctx.users.isBlocked(author, viewerId)]);
    return friend && !blocked;
  }
  const [blocked, following] = await Promise.all([ctx.users.isBlocked(author, viewerId), ctx.users.isFollowing(viewerId, author)]);
  if (blocked) return false;
  if (following) return true;
  if (story.audience === 'followers') return false;
  const profile = await ctx.users.profile(author);
  return profile !== undefined && !profile.isPrivate;
}

/** A live story the viewer may see; NOT_FOUND otherwise (missing, deleted, expired or not for them look alike). */
async function visibleStory(ctx: AppContext, viewerId: string, storyId: string): Promise<sq.StoryRow> {
  const story = await sq.findLiveStory(ctx.db, normaliseId(storyId));
  if (!story || !(await maySee(ctx, story, viewerId))) throw new AppError('NOT_FOUND', 'story not found');
  return story;
}

export async function getStory(ctx: AppContext, viewerId: string, storyId: string): Promise<StoryView & { seen: boolean }> {
  const me = normaliseId(viewerId, 'viewer_id');
  const story = await visibleStory(ctx, me, storyId);
  const seen = me !== story.author_id && (await ctx.db.selectFrom('story_views').select('viewer_id').where('story_id', '=', story.id).where('viewer_id', '=', me).executeTakeFirst()) !== undefined;
  return { ...toView(story, me), seen };
}

/**
 * Marks a story viewed by the caller. Idempotent: the first view counts, repeats change nothing; the author's
 * own views are not recorded.
 */
export async function viewStory(ctx: AppContext, viewerId: string, storyId: string): Promise<{ story_id: string; first_view: boolean }> {
  const me = normaliseId(viewerId, 'viewer_id');
  const story = await visibleStory(ctx, me, storyId);
  if (story.author_id === me) return { story_id: story.id, first_view: false };
  return { story_id: story.id, first_view: await sq.recordView(ctx.db, story.id, me) };
}

/** Who viewed a story, latest first; the author's only (NOT_FOUND for anyone else: it is not theirs to know of). */
export async function listViewers(ctx: AppContext, callerId: string, storyId: string, req: { limit?: number; cursor?: string }): Promise<Page<{ user_id: string; viewed_at: string }>> {
  const me = normaliseId(callerId, 'caller_id');
  const story = await sq.findLiveStory(ctx.db, normaliseId(storyId));
  if (!story) throw new AppError('NOT_FOUND', 'story not found');
  if (story.author_id !== me) {
    if (await maySee(ctx, story, me)) throw new AppError('FORBIDDEN', "only the story's author sees its viewers");
    throw new AppError('NOT_FOUND', 'story not found');
  }
  const limit = req.limit ?? 20;
  const rows = await sq.viewersPage(ctx.db, story.id, limit + 1, decodePosition(req.cursor));
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({ user_id: r.viewer_id, viewed_at: r.viewed_at.toISOString() })),
    next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.viewer_id) : null,
  };
}

/** Soft-deletes the caller's story (deleted_by = the author). NOT_FOUND for a story that is not the caller's. */
export async function deleteStory(ctx: AppContext, callerId: string, storyId: string): Promise<void> {
  const me = normaliseId(callerId, 'caller_id');
  const id = normaliseId(storyId);
  const story = await ctx.db.selectFrom('stories').select(['author_id', 'deleted_at']).where('id', '=', id).executeTakeFirst();
  if (!story || story.deleted_at !== null) throw new AppError('NOT_FOUND', 'story not found');
  if (story.author_id !== me) {
    const live = await sq.findLiveStory(ctx.db, id);
    if (live && (await maySee(ctx, live, me))) throw new AppError('FORBIDDEN', 'only the author may delete a story');
    throw new AppError('NOT_FOUND', 'story not found');
  }
  await sq.softDeleteStory(ctx.db, id, me);
}

/** Everyone `userId` follows (approved follows), through the user service's GetFollowing, all pages. */
export async function followingOf(ctx: AppContext, userId: string): Promise<string[]> {
  const client = ctx.grpc.get('user', userV1.UserServiceClient);
  const ids: string[] = [];
  let cursor = '';
  do {
    let res: userV1.GetFollowingResponse;
    try {
      res = await client.call(client.stub.getFollowing, { user_id: userId, cursor, limit: FOLLOWING_PAGE });
    } catch (err) {
      // A caller without a profile (yet, or any more) follows nobody.
      if (err instanceof AppError && err.code === 'NOT_FOUND') return ids;
      throw err;
    }
    ids.push(...res.following.map((f) => f.user_id));
    cursor = res.next_cursor;
  } while (cursor !== '');
  return ids;
}

/**
 * The caller's story feed: live stories of the people they follow and their own, grouped by author. The
 * caller's own group comes first; then groups with a story the caller has not seen, then the rest, each by
 * their latest story, newest first. Audiences apply (`followers`: everyone here follows the author;
 * `close_friends`: only those on the author's list) and blocks either way hide an author.
 */
export async function storyFeed(ctx: AppContext, viewerId: string): Promise<FeedGroup[]> {
  const me = normaliseId(viewerId, 'viewer_id');
  const [following, blocked] = await Promise.all([followingOf(ctx, me), ctx.users.blockedEitherWay(me)]);
  const authors = [me, ...following.filter((id) => id !== me && !blocked.has(id))];
  const rows = await sq.liveStoriesOf(ctx.db, authors, me, MAX_FEED_STORIES);
  const groups = new Map<string, FeedGroup>();
  for (const r of rows) {
    const own = r.author_id === me;
    if (!own && r.audience === 'close_friends' && !r.close_friend) continue;
    let g = groups.get(r.author_id);
    if (!g) {
      g = { author_id: r.author_id, has_unseen: false, latest_at: r.created_at.toISOString(), stories: [] };
      groups.set(r.author_id, g);
    }
    const seen = own || r.seen;
    g.stories.push({ ...toView(r, me), seen });
    if (!seen) g.has_unseen = true;
    if (r.created_at.toISOString() > g.latest_at) g.latest_at = r.created_at.toISOString();
  }
  const mine = groups.get(me);
  groups.delete(me);
  const others = [...groups.values()].sort((a, b) => Number(b.has_unseen) - Number(a.has_unseen) || b.latest_at.localeCompare(a.latest_at) || a.author_id.localeCompare(b.author_id));
  return mine ? [mine, ...others] : others;
}

