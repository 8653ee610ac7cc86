import type { Kysely, Logger, Outbox, PlatformConfig, ServiceDeps } from '@nova/platform';
import type { UsersDb } from './db/schema.js';

/** Everything the user service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<UsersDb>;
  logger: Logger;
  outbox: Outbox;
  platform: PlatformConfig;
  /** gRPC clients to other services (auth: account facts the profile does not hold, such as the email). */
  grpc: ServiceDeps['grpc'];
}

export function createContext(deps: ServiceDeps): AppContext {
  return { db: deps.db as Kysely<UsersDb>, logger: deps.logger, outbox: deps.outbox, platform: deps.platform, grpc: deps.grpc };
}
