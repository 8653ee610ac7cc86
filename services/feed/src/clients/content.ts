import { contentV1 } from '@nova/proto';
import type { GrpcClients } from '@nova/platform';

/** Most ids GetPostsByIds takes in one call. */
const BATCH = 500;

/**
 * The content service (nova.content.v1) as the feed needs it: live posts by id, to hydrate a page. Deleted
 * and unknown posts are simply absent. Rejects with an AppError when content cannot be asked
 * (DEPENDENCY_UNAVAILABLE, CIRCUIT_OPEN, DEADLINE_EXCEEDED): the feed never shows a post it could not check.
 */
export interface Posts {
  byIds(ids: readonly string[]): Promise<Map<string, contentV1.Post>>;
}

/** Over gRPC; the client is resolved on first use (under `nova up` addresses are known once ports are bound). */
export function grpcPosts(grpc: GrpcClients): Posts {
  return {
    async byIds(ids) {
      const out = new Map<string, contentV1.Post>();
      const c = grpc.get('content', contentV1.ContentServiceClient);
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += BATCH) {
        const res = await c.call(c.stub.getPostsByIds, { ids: unique.slice(i, i + BATCH) });
        for (const p of res.posts) out.set(p.id, p);
      }
      return out;
    },
  };
}
