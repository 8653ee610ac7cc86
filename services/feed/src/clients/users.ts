import { userV1 } from '@nova/proto';
import type { GrpcClients } from '@nova/platform';

/** Most ids GetProfilesByIds takes in one call. */
const BATCH = 500;

/**
 * The user service (nova.user.v1) as the feed needs it: live profiles by id, to show authors and to re-check
 * their privacy at read time. Deleted and unknown users are absent. Rejects with an AppError when the user
 * service cannot be asked.
 */
export interface Users {
  profiles(ids: readonly string[]): Promise<Map<string, userV1.Profile>>;
}

export function grpcUsers(grpc: GrpcClients): Users {
  return {
    async profiles(ids) {
      const out = new Map<string, userV1.Profile>();
      const c = grpc.get('user', userV1.UserServiceClient);
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += BATCH) {
        const res = await c.call(c.stub.getProfilesByIds, { ids: unique.slice(i, i + BATCH) });
        for (const p of res.profiles) out.set(p.id, p);
      }
      return out;
    },
  };
}
