import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const contentService = defineService({
  name: 'content',
  description: 'posts, comments, likes, bookmarks, reposts, hashtags, mentions, stories',
  migrations,
  create: () => ({}),
});
