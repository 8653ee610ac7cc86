import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const searchService = defineService({
  name: 'search',
  description: 'users, posts and hashtags search, suggestions, trending searches',
  migrations,
  create: () => ({}),
});
