import type { Kysely, Logger, Outbox, PlatformConfig, ServiceDeps } from '@nova/platform';
import { grpcUsers, type Users } from './clients/users.js';
import type { ContentDb } from './db/schema.js';

/** Everything the content service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<ContentDb>;
  logger: Logger;
  outbox: Outbox;
  platform: PlatformConfig;
  /** gRPC clients: the user service answers who follows and blocks whom, and resolves @mentions. */
  grpc: ServiceDeps['grpc'];
  /** The user service (profiles, follows, blocks, usernames), behind an interface tests may replace. */
  users: Users;
}

export function createContext(deps: ServiceDeps, overrides: Partial<AppContext> = {}): AppContext {
  return { db: deps.db as Kysely<ContentDb>, logger: deps.logger, outbox: deps.outbox, platform: deps.platform, grpc: deps.grpc, users: grpcUsers(deps.grpc), ...overrides };
}
