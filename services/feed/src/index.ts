import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const feedService = defineService({
  name: 'feed',
  description: 'home timeline (fan-out on write, ranked), trending, explore',
  migrations,
  create: () => ({}),
});
