import { sql, type DbOrTx } from '@nova/platform';
import type { ContentDb, StoryAudience } from '../schema.js';

type Q = DbOrTx<ContentDb>;

/** How long a story is served after it is posted (never chosen by the client). */
export const STORY_LIFETIME_MS = 24 * 3600 * 1000;

/** A story as stored, for reads (live means: not deleted, not expired). */
export interface StoryRow {
  id: string;
  author_id: string;
  media_id: string;
  caption: string | null;
  audience: StoryAudience;
  view_count: number;
  created_at: Date;
  expires_at: Date;
}

const STORY_COLUMNS = ['id', 'author_id', 'media_id', 'caption', 'audience', 'view_count', 'created_at', 'expires_at'] as const;

/** Microsecond UTC text of a timestamp column, for cursors (a JS Date keeps only milliseconds). */
export const positionText = (column: string) => sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Inserts a story expiring STORY_LIFETIME_MS after the database's clock at insert. */
export function insertStory(db: Q, s: { id: string; authorId: string; mediaId: string; caption: string | null; audience: StoryAudience }): Promise<StoryRow> {
  return db
    .insertInto('stories')
    .values({
      id: s.id,
      author_id: s.authorId,
      media_id: s.mediaId,
      caption: s.caption,
      audience: s.audience,
      created_at: sql<Date>`clock_timestamp()`,
      expires_at: sql<Date>`clock_timestamp() + ${`${STORY_LIFETIME_MS} milliseconds`}::interval`,
    })
    .returning(STORY_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** A live story: not deleted and not past its expiry (an expired story is gone at once, before the purge). */
export function findLiveStory(db: Q, id: string): Promise<StoryRow | undefined> {
  return db.selectFrom('stories').select(STORY_COLUMNS).where('id', '=', id).where('deleted_at', 'is', null).where('expires_at', '>', sql<Date>`now()`).executeTakeFirst();
}

/** Whether `friendId` is on `userId`'s close-friends list. */
export async function isCloseFriend(db: Q, userId: string, friendId: string): Promise<boolean> {
  const row = await db.selectFrom('close_friends').select(sql`1`.as('one')).where('user_id', '=', userId).where('friend_id', '=', friendId).executeTakeFirst();
  return row !== undefined;
}

export interface FeedStoryRow extends StoryRow {
  /** The viewer has viewed it. */
  seen: boolean;
  /** The viewer is on the author's close-friends list. */
  close_friend: boolean;
}

/** Live stories of these authors, oldest first per author, with what the viewer needs to filter and order them. */
export function liveStoriesOf(db: Q, authorIds: string[], viewerId: string, limit: number): Promise<FeedStoryRow[]> {
  if (authorIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('stories as s')
    .select([...STORY_COLUMNS.map((c) => `s.${c}` as const)])
    .select((eb) => [
      eb.exists(eb.selectFrom('story_views as v').select(sql`1`.as('one')).whereRef('v.story_id', '=', 's.id').where('v.viewer_id', '=', viewerId)).as('seen'),
      eb.exists(eb.selectFrom('close_friends as c').select(sql`1`.as('one')).whereRef('c.user_id', '=', 's.author_id').where('c.friend_id', '=', viewerId)).as('close_friend'),
    ])
    .where('s.author_id', '=', sql<string>`ANY(${authorIds}::uuid[])`)
    .where('s.deleted_at', 'is', null)
    .where('s.expires_at', '>', sql<Date>`now()`)
    .orderBy('s.author_id')
    .orderBy('s.created_at', 'asc')
    .orderBy('s.id', 'asc')
    .limit(limit)
    .execute() as Promise<FeedStoryRow[]>;
}

/**
 * Records a view once per viewer; the counter moves only when the view row was inserted (the primary key
 * serialises concurrent first views, the UPDATE's row lock the counter). One statement. Returns whether
 * this was the viewer's first view.
 */
export async function recordView(db: Q, storyId: string, viewerId: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    WITH inserted AS (
      INSERT INTO content.story_views (story_id, viewer_id) VALUES (${storyId}, ${viewerId})
      ON CONFLICT (story_id, viewer_id) DO NOTHING
      RETURNING story_id
    )
    UPDATE content.stories SET view_count = view_count + 1 WHERE id IN (SELECT story_id FROM inserted) RETURNING id`.execute(db);
  return rows.length > 0;
}

export interface ViewerRow {
  viewer_id: string;
  viewed_at: Date;
  position_at: string;
}

/** One page of a story's viewers, latest view first (viewed_at DESC, viewer_id ASC). */
export function viewersPage(db: Q, storyId: string, limit: number, after?: { at: string; id: string }): Promise<ViewerRow[]> {
  let q = db
    .selectFrom('story_views')
    .select(['viewer_id', 'viewed_at', positionText('viewed_at').as('position_at')])
    .where('story_id', '=', storyId);
  if (after) {
    const at = sql`${after.at}::timestamptz`;
    q = q.where(sql<boolean>`viewed_at <= ${at} AND (viewed_at < ${at} OR viewer_id > ${after.id}::uuid)`);
  }
  return q.orderBy('viewed_at', 'desc').orderBy('viewer_id', 'asc').limit(limit).execute();
}

/** Soft-deletes a live (or expired but not yet purged) story; false when it was already deleted. */
export async function softDeleteStory(db: Q, id: string, deletedBy: string | null): Promise<boolean> {
  const res = await db.updateTable('stories').set({ deleted_at: sql<Date>`now()`, deleted_by: deletedBy }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/**
 * Soft-deletes up to `limit` stories past their expiry with `deleted_by` NULL (the system, not a person),
 * skipping rows another purger holds. Returns the ids purged.
 */
export async function purgeExpired(db: Q, limit: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    UPDATE content.stories SET deleted_at = now(), deleted_by = NULL
    WHERE id IN (
      SELECT id FROM content.stories
      WHERE deleted_at IS NULL AND expires_at <= now()
      ORDER BY expires_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id`.execute(db);
  return rows.map((r) => r.id);
}

// Close friends.

export interface CloseFriendRow {
  friend_id: string;
  created_at: Date;
  position_at: string;
}

/** Adds a close friend; false when already on the list. */
export async function addCloseFriend(db: Q, userId: string, friendId: string): Promise<boolean> {
  const row = await db.insertInto('close_friends').values({ user_id: userId, friend_id: friendId }).onConflict((oc) => oc.columns(['user_id', 'friend_id']).doNothing()).returning('friend_id').executeTakeFirst();
  return row !== undefined;
}

/** Removes a close friend; false when not on the list. */
export async function removeCloseFriend(db: Q, userId: string, friendId: string): Promise<boolean> {
  const res = await db.deleteFrom('close_friends').where('user_id', '=', userId).where('friend_id', '=', friendId).executeTakeFirst();
  return res.numDeletedRows > 0n;
}

/** One page of a user's close friends, most recently added first (created_at DESC, friend_id ASC). */
export function closeFriendsPage(db: Q, userId: string, limit: number, after?: { at: string; id: string }): Promise<CloseFriendRow[]> {
  let q = db
    .selectFrom('close_friends')
    .select(['friend_id', 'created_at', positionText('created_at').as('position_at')])
    .where('user_id', '=', userId);
  if (after) {
    const at = sql`${after.at}::timestamptz`;
    q = q.where(sql<boolean>`created_at <= ${at} AND (created_at < ${at} OR friend_id > ${after.id}::uuid)`);
  }
  return q.orderBy('created_at', 'desc').orderBy('friend_id', 'asc').limit(limit).execute();
}
