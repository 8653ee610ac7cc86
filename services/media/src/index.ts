import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const mediaService = defineService({
  name: 'media',
  description: 'resumable uploads, image variants, storage drivers, quotas',
  migrations,
  create: () => ({}),
});
