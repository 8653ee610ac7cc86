import type { AccessTokenVerifier, Kysely, Logger, NatsHandle, ServiceDeps } from '@nova/platform';
import type { ConfigOf } from '@nova/platform';
import type { eventsConfig } from './config.js';
import type { EventsDb } from './db/schema.js';

/** Everything the events service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<EventsDb>;
  logger: Logger;
  nats: NatsHandle;
  /** NATS_SUBJECT_PREFIX: every subject, stream and bucket name derives from it. */
  prefix: string;
  adminToken: string | undefined;
  replayMax: number;
  verifier: AccessTokenVerifier;
}

export function createContext(deps: ServiceDeps<ConfigOf<typeof eventsConfig>>): AppContext {
  return {
    db: deps.db as Kysely<EventsDb>,
    logger: deps.logger,
    nats: deps.nats,
    prefix: deps.platform.NATS_SUBJECT_PREFIX,
    adminToken: deps.config.EVENTS_ADMIN_TOKEN,
    replayMax: deps.config.EVENTS_REPLAY_MAX,
    verifier: deps.tokenVerifier,
  };
}
