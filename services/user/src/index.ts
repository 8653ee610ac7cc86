import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const userService = defineService({
  name: 'user',
  description: 'profiles, follow graph, follow requests, blocks, mutes, settings',
  migrations,
  create: () => ({}),
});
