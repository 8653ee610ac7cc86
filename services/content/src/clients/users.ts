import { userV1 } from '@nova/proto';
import { AppError, type GrpcClients } from '@nova/platform';

/** Most ids or usernames the user service takes in one call. */
const BATCH = 500;

/** What the content service needs to know about a user (a live profile). */
export interface UserFacts {
  id: string;
  username: string;
  /** Private account: its `public` posts are followers-only too. */
  isPrivate: boolean;
}

/**
 * The user service (nova.user.v1) as the content service needs it. It sits behind AppContext (`ctx.users`)
 * so tests may replace it. Deleted or unknown users are simply absent (or undefined / false). Every method
 * rejects with an AppError when the user service cannot be asked (DEPENDENCY_UNAVAILABLE, CIRCUIT_OPEN,
 * DEADLINE_EXCEEDED), which the HTTP layer answers with 503: content never guesses a relationship.
 * Batched methods split large inputs into calls of at most 500.
 */
export interface Users {
  /** One live profile (GetProfile); undefined when unknown or deleted. */
  profile(id: string): Promise<UserFacts | undefined>;
  /** Live profiles by id (GetProfilesByIds), keyed by id; unknown and deleted ids are absent. */
  profiles(ids: readonly string[]): Promise<Map<string, UserFacts>>;
  /** Live profiles by username, case-insensitive (GetProfilesByUsernames), keyed by lower-cased username. */
  profilesByUsernames(usernames: readonly string[]): Promise<Map<string, UserFacts>>;
  /** Everyone `userId` blocks and everyone who blocks `userId` (ListBlocked), as one set. */
  blockedEitherWay(userId: string): Promise<Set<string>>;
  /** Whether a blocks b or b blocks a (IsBlocked). */
  isBlocked(a: string, b: string): Promise<boolean>;
  /** Whether `follower` follows `followee` (an approved follow; IsFollowing). */
  isFollowing(follower: string, followee: string): Promise<boolean>;
  /** The subset of `candidates` that `follower` follows (FilterFollowed). */
  followedAmong(follower: string, candidates: readonly string[]): Promise<Set<string>>;
}

/** Over gRPC. The client is resolved on first use (under `nova up` the address is known only once ports are bound). */
export function grpcUsers(grpc: GrpcClients): Users {
  const client = () => grpc.get('user', userV1.UserServiceClient);
  const facts = (p: userV1.Profile): UserFacts => ({ id: p.id, username: p.username, isPrivate: p.is_private });
  return {
    async profile(id) {
      const c = client();
      try {
        const res = await c.call(c.stub.getProfile, { id });
        return res.profile ? facts(res.profile) : undefined;
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    },
    async profiles(ids) {
      const out = new Map<string, UserFacts>();
      const c = client();
      for (const part of chunks([...new Set(ids)])) {
        const res = await c.call(c.stub.getProfilesByIds, { ids: part });
        for (const p of res.profiles) out.set(p.id, facts(p));
      }
      return out;
    },
    async profilesByUsernames(usernames) {
      const out = new Map<string, UserFacts>();
      const c = client();
      for (const part of chunks([...new Set(usernames.map((u) => u.toLowerCase()))])) {
        const res = await c.call(c.stub.getProfilesByUsernames, { usernames: part });
        for (const p of res.profiles) out.set(p.username.toLowerCase(), facts(p));
      }
      return out;
    },
    async blockedEitherWay(userId) {
      const c = client();
      const res = await c.call(c.stub.listBlocked, { user_id: userId });
      return new Set([...res.blocking, ...res.blocked_by]);
    },
    async isBlocked(a, b) {
      const c = client();
      return (await c.call(c.stub.isBlocked, { a, b })).blocked;
    },
    async isFollowing(follower, followee) {
      const c = client();
      return (await c.call(c.stub.isFollowing, { follower_id: follower, followee_id: followee })).following;
    },
    async followedAmong(follower, candidates) {
      const out = new Set<string>();
      const c = client();
      for (const part of chunks([...new Set(candidates)])) {
        const res = await c.call(c.stub.filterFollowed, { follower_id: follower, candidate_ids: part });
        for (const id of res.followed_ids) out.add(id);
      }
      return out;
    },
  };
}

function chunks<T>(values: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += BATCH) out.push(values.slice(i, i + BATCH));
  return out;
}
