import { sql, type EventEnvelope, type Tx } from '@nova/platform';
import * as pq from '../db/queries/profiles.js';
import type { UsersDb } from '../db/schema.js';

type Db = Tx<UsersDb>;

/** auth's UserRegistered: every account gets a profile and default settings. */
export async function onUserRegistered(tx: Db, event: EventEnvelope<{ user_id: string; username: string }>): Promise<void> {
  await pq.createProfile(tx, { id: event.data.user_id, username: event.data.username });
}

/**
 * auth's UserDeleted: the profile is soft-deleted and the user leaves every list and count — their follows,
 * follow requests, blocks and mutes go, and the counters of the people on the other side are corrected.
 */
export async function onUserDeleted(tx: Db, event: EventEnvelope<{ user_id: string; deleted_by?: string }>): Promise<void> {
  const id = event.data.user_id;
  // Lock every profile whose counters change, in id order like the follow paths do, so this cannot deadlock with them.
  const related = await tx
    .selectFrom('follows')
    .select(['follower_id', 'followee_id'])
    .where((eb) => eb.or([eb('follower_id', '=', id), eb('followee_id', '=', id)]))
    .execute();
  await pq.lockProfiles(tx, [id, ...related.map((r) => (r.follower_id === id ? r.followee_id : r.follower_id))]);
  if (!(await pq.softDeleteProfile(tx, id, event.data.deleted_by ?? id))) {
    // The two events travel on separate consumers: if the deletion arrives first, leave a deleted row so
    // that a late UserRegistered cannot bring the account back (createProfile does nothing on conflict).
    await tx
      .insertInto('profiles')
      .values({ id, username: `deleted-${id}`, username_lower: `deleted-${id}`, deleted_at: new Date(), deleted_by: event.data.deleted_by ?? id })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return;
  }
  const followees = await tx.deleteFrom('follows').where('follower_id', '=', id).returning('followee_id').execute();
  const followers = await tx.deleteFrom('follows').where('followee_id', '=', id).returning('follower_id').execute();
  await pq.bumpCounter(tx, followees.map((r) => r.followee_id), 'follower_count', -1);
  await pq.bumpCounter(tx, followers.map((r) => r.follower_id), 'following_count', -1);
  await tx.deleteFrom('follow_requests').where((eb) => eb.or([eb('requester_id', '=', id), eb('target_id', '=', id)])).execute();
  await tx.deleteFrom('blocks').where((eb) => eb.or([eb('blocker_id', '=', id), eb('blocked_id', '=', id)])).execute();
  await tx.deleteFrom('mutes').where((eb) => eb.or([eb('muter_id', '=', id), eb('muted_id', '=', id)])).execute();
  await tx.updateTable('profiles').set({ follower_count: 0, following_count: 0, updated_at: sql`now()` }).where('id', '=', id).execute();
}
