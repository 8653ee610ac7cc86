import type { Kysely, Logger, Outbox, PlatformConfig, ServiceDeps } from '@nova/platform';
import { grpcAuthAccounts, type AuthAccounts } from './clients/auth-accounts.js';
import type { UsersDb } from './db/schema.js';

/** Everything the user service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<UsersDb>;
  logger: Logger;
  outbox: Outbox;
  platform: PlatformConfig;
  /** gRPC clients to other services (auth: account facts the profile does not hold, such as the email). */
  grpc: ServiceDeps['grpc'];
  /** The auth service's account facts (the owner's email, the username of an account whose event is late). */
  accounts: AuthAccounts;
}

export function createContext(deps: ServiceDeps, overrides: Partial<AppContext> = {}): AppContext {
  return { db: deps.db as Kysely<UsersDb>, logger: deps.logger, outbox: deps.outbox, platform: deps.platform, grpc: deps.grpc, accounts: grpcAuthAccounts(deps.grpc), ...overrides };
}
