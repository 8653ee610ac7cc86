import { sql, type DbOrTx } from '@nova/platform';
import type { UsersDb } from '../schema.js';
import type { ProfileRow } from './profiles.js';

type Q = DbOrTx<UsersDb>;

export type SuggestionRow = ProfileRow & { mutual_count: number };

export interface SuggestionBounds {
  /** How many of the user's follows (the most recent) are looked through. */
  maxFollowees: number;
  /** How many follows of each of those (the most recent) are counted. */
  maxPerFollowee: number;
}

/**
 * Friends of friends, in one statement: people followed by the people `userId` follows, ranked by how many
 * of the people `userId` follows follow them (the mutual count), newest profile first among equals. Left
 * out: the user, anyone the user already follows or has asked to follow, anyone blocked either way, anyone
 * the user mutes (until the mute lapses), deleted profiles, and people who opted out of suggestions.
 *
 * Both walks are bounded, newest follows first, so a user following thousands of people who each follow
 * thousands costs at most maxFollowees × maxPerFollowee index entries (follows_follower_idx), not all of them.
 */
export async function friendsOfFriends(db: Q, userId: string, limit: number, bounds: SuggestionBounds): Promise<SuggestionRow[]> {
  const { rows } = await sql<SuggestionRow>`
    WITH mine AS (
      SELECT f.followee_id AS id
        FROM users.follows f
       WHERE f.follower_id = ${userId}
       ORDER BY f.created_at DESC
       LIMIT ${bounds.maxFollowees}
    ), candidates AS (
      SELECT fof.followee_id AS id, count(*)::int AS mutual_count
        FROM mine
        CROSS JOIN LATERAL (
          SELECT f2.followee_id
            FROM users.follows f2
           WHERE f2.follower_id = mine.id
           ORDER BY f2.created_at DESC
           LIMIT ${bounds.maxPerFollowee}
        ) fof
       WHERE fof.followee_id <> ${userId}
       GROUP BY fof.followee_id
    )
    SELECT p.*, c.mutual_count
      FROM candidates c
      JOIN users.profiles p ON p.id = c.id AND p.deleted_at IS NULL
     WHERE NOT EXISTS (SELECT 1 FROM users.follows x WHERE x.follower_id = ${userId} AND x.followee_id = c.id)
       AND NOT EXISTS (SELECT 1 FROM users.follow_requests r WHERE r.requester_id = ${userId} AND r.target_id = c.id)
       AND NOT EXISTS (SELECT 1 FROM users.blocks b WHERE b.blocker_id = ${userId} AND b.blocked_id = c.id)
       AND NOT EXISTS (SELECT 1 FROM users.blocks b WHERE b.blocker_id = c.id AND b.blocked_id = ${userId})
       AND NOT EXISTS (SELECT 1 FROM users.mutes m WHERE m.muter_id = ${userId} AND m.muted_id = c.id AND (m.expires_at IS NULL OR m.expires_at > now()))
       AND NOT EXISTS (SELECT 1 FROM users.settings s WHERE s.user_id = c.id AND s.privacy @> '{"show_in_suggestions": false}'::jsonb)
     ORDER BY c.mutual_count DESC, p.created_at DESC, p.id DESC
     LIMIT ${limit}`.execute(db);
  return rows;
}
