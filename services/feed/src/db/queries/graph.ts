import { sql, type Kysely, type Transaction } from '@nova/platform';
import type { FeedDb } from '../schema.js';

type Db = Kysely<FeedDb> | Transaction<FeedDb>;

/** Inserts a follow; true when it was new (then the followee's follower_count moves up). */
export async function insertFollow(db: Db, followerId: string, followeeId: string, at: Date): Promise<boolean> {
  const inserted = await db.insertInto('follows').values({ follower_id: followerId, followee_id: followeeId, created_at: at }).onConflict((oc) => oc.doNothing()).returning('follower_id').executeTakeFirst();
  if (!inserted) return false;
  await bumpFollowers(db, [followeeId], 1);
  return true;
}

/** Deletes a follow; true when there was one (then the followee's follower_count moves down). */
export async function deleteFollow(db: Db, followerId: string, followeeId: string): Promise<boolean> {
  const deleted = await db.deleteFrom('follows').where('follower_id', '=', followerId).where('followee_id', '=', followeeId).returning('follower_id').executeTakeFirst();
  if (!deleted) return false;
  await bumpFollowers(db, [followeeId], -1);
  return true;
}

async function bumpFollowers(db: Db, ids: readonly string[], delta: number): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    INSERT INTO feed.authors (id, follower_count)
    SELECT id, greatest(${delta}::int, 0) FROM unnest(${ids}::uuid[]) AS t(id)
    ON CONFLICT (id) DO UPDATE SET follower_count = greatest(feed.authors.follower_count + ${delta}::int, 0)`.execute(db);
}

export async function insertBlock(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await db.insertInto('blocks').values({ blocker_id: blockerId, blocked_id: blockedId }).onConflict((oc) => oc.doNothing()).execute();
}

export async function deleteBlock(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await db.deleteFrom('blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).execute();
}

export async function upsertMute(db: Db, muterId: string, mutedId: string, expiresAt: Date | null): Promise<void> {
  await db
    .insertInto('mutes')
    .values({ muter_id: muterId, muted_id: mutedId, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['muter_id', 'muted_id']).doUpdateSet({ expires_at: expiresAt }))
    .execute();
}

export async function deleteMute(db: Db, muterId: string, mutedId: string): Promise<void> {
  await db.deleteFrom('mutes').where('muter_id', '=', muterId).where('muted_id', '=', mutedId).execute();
}

export async function setPrivate(db: Db, userId: string, isPrivate: boolean): Promise<void> {
  await db.insertInto('authors').values({ id: userId, is_private: isPrivate }).onConflict((oc) => oc.column('id').doUpdateSet({ is_private: isPrivate })).execute();
}

/**
 * Everything of a deleted account: marked deleted, its posts too; its follows both ways go (moving the
 * counters of those it followed); its reposts, blocks, mutes and reader row go. Returns who followed it.
 */
export async function deleteAccount(db: Db, userId: string, at: Date): Promise<{ followers: string[] }> {
  await db.insertInto('authors').values({ id: userId, deleted_at: at }).onConflict((oc) => oc.column('id').doUpdateSet({ deleted_at: at, follower_count: 0 })).execute();
  await db.updateTable('posts').set({ deleted_at: at }).where('author_id', '=', userId).where('deleted_at', 'is', null).execute();
  const followers = (await db.deleteFrom('follows').where('followee_id', '=', userId).returning('follower_id').execute()).map((r) => r.follower_id);
  const followed = (await db.deleteFrom('follows').where('follower_id', '=', userId).returning('followee_id').execute()).map((r) => r.followee_id);
  await bumpFollowers(db, followed, -1);
  await db.deleteFrom('reposts').where('user_id', '=', userId).execute();
  await db.deleteFrom('blocks').where((eb) => eb.or([eb('blocker_id', '=', userId), eb('blocked_id', '=', userId)])).execute();
  await db.deleteFrom('mutes').where((eb) => eb.or([eb('muter_id', '=', userId), eb('muted_id', '=', userId)])).execute();
  await db.deleteFrom('readers').where('user_id', '=', userId).execute();
  return { followers };
}

/** Notes that a user read their feed now, at most once per `everySeconds` (one cheap conditional write). */
export async function touchReader(db: Db, userId: string, everySeconds: number): Promise<void> {
  await sql`
    INSERT INTO feed.readers (user_id, last_seen_at) VALUES (${userId}, now())
    ON CONFLICT (user_id) DO UPDATE SET last_seen_at = now()
    WHERE feed.readers.last_seen_at < now() - make_interval(secs => ${everySeconds})`.execute(db);
}

/** A page of an author's followers who read their feed within `activeDays`, by follower id (keyset). */
export async function activeFollowers(db: Db, authorId: string, activeDays: number, after: string | undefined, limit: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT f.follower_id AS id FROM feed.follows f
    JOIN feed.readers r ON r.user_id = f.follower_id AND r.last_seen_at > now() - make_interval(days => ${activeDays})
    WHERE f.followee_id = ${authorId} ${after === undefined ? sql`` : sql`AND f.follower_id > ${after}`}
    ORDER BY f.follower_id
    LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.id);
}

export async function followerCount(db: Db, authorId: string): Promise<number> {
  const row = await db.selectFrom('authors').select('follower_count').where('id', '=', authorId).executeTakeFirst();
  return row?.follower_count ?? 0;
}
