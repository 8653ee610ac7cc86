import { userV1 } from '@nova/proto';
import { AppError, decodePosition, encodePosition, isUuid, unary, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import * as gq from '../../db/queries/graph-reads.js';
import * as pq from '../../db/queries/profiles.js';
import { blockedEitherWay, followedAmong, isFollowing } from '../../db/queries/relations.js';
import { settingsOf } from '../../domain/settings.js';

/** Most ids GetProfilesByIds takes in one call. */
export const MAX_IDS_PER_CALL = 500;
/** Largest GetFollowers page, and the page size when the caller asks for none. */
export const MAX_FOLLOWERS_PAGE = 1000;
export const DEFAULT_FOLLOWERS_PAGE = 500;

/**
 * nova.user.v1.UserService: profiles and the follow/block graph for the other services (any verified
 * service). No viewer is involved: callers apply privacy and blocks themselves with these answers.
 */
export function userGrpc(ctx: AppContext): GrpcServiceRegistration {
  const implementation: userV1.UserServiceServer = {
    getProfile: unary(async (req: userV1.GetProfileRequest) => {
      const profile = await pq.findProfile(ctx.db, uuid(req.id, 'id'));
      if (!profile) throw new AppError('NOT_FOUND', 'user not found');
      return { profile: toProto(profile) };
    }),

    getProfilesByIds: unary(async (req: userV1.GetProfilesByIdsRequest) => {
      if (req.ids.length > MAX_IDS_PER_CALL) {
        throw new AppError('VALIDATION_FAILED', `at most ${MAX_IDS_PER_CALL} ids per call, got ${req.ids.length}`, { details: { field: 'ids', max: MAX_IDS_PER_CALL } });
      }
      const ids = [...new Set(req.ids.map((id, i) => uuid(id, `ids[${i}]`)))];
      const rows = new Map((await pq.findProfiles(ctx.db, ids)).map((p) => [p.id, p]));
      return { profiles: ids.flatMap((id) => (rows.has(id) ? [toProto(rows.get(id)!)] : [])) };
    }),

    getFollowers: unary(async (req: userV1.GetFollowersRequest) => {
      const userId = uuid(req.user_id, 'user_id');
      const limit = pageSize(req.limit);
      const after = req.cursor === '' ? undefined : followKey(req.cursor);
      // One row more than asked says whether another page follows.
      const rows = await gq.followersPage(ctx.db, userId, limit + 1, after);
      // An empty page is also what a missing or deleted user gets: tell the two apart only then.
      if (rows.length === 0 && !(await pq.findProfile(ctx.db, userId))) throw new AppError('NOT_FOUND', 'user not found');
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        followers: page.map((r) => ({ user_id: r.follower_id, followed_at: r.followed_at })),
        next_cursor: rows.length > limit && last ? encodePosition(last.followed_at, last.follower_id) : '',
      };
    }),

    getFollowing: unary(async (req: userV1.GetFollowingRequest) => {
      const userId = uuid(req.user_id, 'user_id');
      const limit = pageSize(req.limit);
      const after = req.cursor === '' ? undefined : followKey(req.cursor);
      const rows = await gq.followingPage(ctx.db, userId, limit + 1, after && { followedAt: after.followedAt, followeeId: after.followerId });
      if (rows.length === 0 && !(await pq.findProfile(ctx.db, userId))) throw new AppError('NOT_FOUND', 'user not found');
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        following: page.map((r) => ({ user_id: r.followee_id, followed_at: r.followed_at })),
        next_cursor: rows.length > limit && last ? encodePosition(last.followed_at, last.followee_id) : '',
      };
    }),

    isFollowing: unary(async (req: userV1.IsFollowingRequest) => ({
      following: await isFollowing(ctx.db, uuid(req.follower_id, 'follower_id'), uuid(req.followee_id, 'followee_id')),
    })),

    getRelationship: unary(async (req: userV1.GetRelationshipRequest) => gq.relationship(ctx.db, uuid(req.a, 'a'), uuid(req.b, 'b'))),

    isBlocked: unary(async (req: userV1.IsBlockedRequest) => ({
      blocked: await blockedEitherWay(ctx.db, uuid(req.a, 'a'), uuid(req.b, 'b')),
    })),

    listBlocked: unary(async (req: userV1.ListBlockedRequest) => {
      const { blocking, blockedBy } = await gq.blocksOf(ctx.db, uuid(req.user_id, 'user_id'));
      return { blocking, blocked_by: blockedBy };
    }),

    filterFollowed: unary(async (req: userV1.FilterFollowedRequest) => {
      const follower = uuid(req.follower_id, 'follower_id');
      const candidates = [...new Set(batch(req.candidate_ids, 'candidate_ids').map((id, i) => uuid(id, `candidate_ids[${i}]`)))];
      const followed = new Set(await followedAmong(ctx.db, follower, candidates));
      return { followed_ids: candidates.filter((id) => followed.has(id)) };
    }),

    getProfilesByUsernames: unary(async (req: userV1.GetProfilesByUsernamesRequest) => {
      const wanted = [...new Set(batch(req.usernames, 'usernames').filter((u) => USERNAME.test(u)).map((u) => u.toLowerCase()))];
      const rows = new Map((await pq.findByUsernames(ctx.db, wanted)).map((p) => [p.username_lower, p]));
      return { profiles: wanted.flatMap((u) => (rows.has(u) ? [toProto(rows.get(u)!)] : [])) };
    }),

    getMessagingSettings: unary(async (req: userV1.GetMessagingSettingsRequest) => {
      const ids = [...new Set(batch(req.user_ids, 'user_ids').map((id, i) => uuid(id, `user_ids[${i}]`)))];
      const live = new Set((await pq.findProfiles(ctx.db, ids)).map((p) => p.id));
      const known = ids.filter((id) => live.has(id));
      const settings = await settingsOf(ctx, known);
      return {
        settings: known.map((id) => {
          const s = settings.get(id)!;
          return { user_id: id, who_can_message: s.who_can_message, read_receipts: s.privacy.read_receipts, show_activity_status: s.privacy.show_activity_status };
        }),
      };
    }),
  };
  return { definition: userV1.UserServiceService, implementation, allow: { '*': ['*'] } };
}

const USERNAME = /^[A-Za-z0-9_]{3,32}$/;

/** A repeated field of at most MAX_IDS_PER_CALL entries. */
function batch<T>(values: T[], field: string): T[] {
  if (values.length > MAX_IDS_PER_CALL) {
    throw new AppError('VALIDATION_FAILED', `at most ${MAX_IDS_PER_CALL} ${field} per call, got ${values.length}`, { details: { field, max: MAX_IDS_PER_CALL } });
  }
  return values;
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}

function pageSize(limit: number): number {
  if (limit === 0) return DEFAULT_FOLLOWERS_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FOLLOWERS_PAGE) {
    throw new AppError('VALIDATION_FAILED', `limit must be between 1 and ${MAX_FOLLOWERS_PAGE}`, { details: { field: 'limit', max: MAX_FOLLOWERS_PAGE } });
  }
  return limit;
}

/** A GetFollowers or GetFollowing cursor: (follow time, the other user's id). */
function followKey(cursor: string): gq.FollowerKey {
  const { at, id } = decodePosition(cursor)!;
  return { followedAt: at, followerId: id };
}

function toProto(p: pq.ProfileRow): userV1.Profile {
  const optional = (key: 'display_name' | 'bio' | 'avatar_media_id' | 'cover_media_id' | 'location' | 'website') => (p[key] === null ? {} : { [key]: p[key] });
  return {
    id: p.id,
    username: p.username,
    ...optional('display_name'),
    ...optional('bio'),
    ...optional('avatar_media_id'),
    ...optional('cover_media_id'),
    ...optional('location'),
    ...optional('website'),
    is_private: p.is_private,
    follower_count: p.follower_count,
    following_count: p.following_count,
    post_count: p.post_count,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  };
}
