import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const cdnService = defineService({
  name: 'cdn',
  description: 'signed URLs, origin for local storage, cache invalidation',
  migrations,
  create: () => ({}),
});
