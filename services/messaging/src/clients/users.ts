import { userV1 } from '@nova/proto';
import type { GrpcClients } from '@nova/platform';

/** Most ids the user service takes in one call. */
const BATCH = 500;

export type WhoCanMessage = 'everyone' | 'followers' | 'nobody';

/** What messaging needs to know of a (live) user's settings. */
export interface MessagingSettings {
  whoCanMessage: WhoCanMessage;
  readReceipts: boolean;
  showActivityStatus: boolean;
}

/**
 * The user service (nova.user.v1) as the messaging service needs it, behind AppContext (`ctx.users`) so
 * tests may replace it. Deleted or unknown users are absent. Every method rejects with an AppError when the
 * user service cannot be asked (503 over HTTP): messaging never guesses whether two people may talk.
 */
export interface Users {
  /** Messaging settings of live users (GetMessagingSettings), keyed by id; unknown and deleted ids are absent. */
  settings(ids: readonly string[]): Promise<Map<string, MessagingSettings>>;
  /** Everyone `userId` blocks and everyone who blocks `userId` (ListBlocked). */
  blockedEitherWay(userId: string): Promise<Set<string>>;
  /** Whether a blocks b or b blocks a (IsBlocked). */
  isBlocked(a: string, b: string): Promise<boolean>;
  /** The subset of `candidates` that `follower` follows (FilterFollowed, approved follows). */
  followedAmong(follower: string, candidates: readonly string[]): Promise<Set<string>>;
}

/** Over gRPC; the client is resolved on first use (under `nova up` the address is known only once ports are bound). */
export function grpcUsers(grpc: GrpcClients): Users {
  const client = () => grpc.get('user', userV1.UserServiceClient);
  return {
    async settings(ids) {
      const out = new Map<string, MessagingSettings>();
      const c = client();
      for (const part of chunks([...new Set(ids)])) {
        const res = await c.call(c.stub.getMessagingSettings, { user_ids: part });
        for (const s of res.settings) out.set(s.user_id, { whoCanMessage: s.who_can_message as WhoCanMessage, readReceipts: s.read_receipts, showActivityStatus: s.show_activity_status });
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
