import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const streamingService = defineService({
  name: 'streaming',
  description: 'live streams, stream keys, RTMP ingest callbacks, viewers, live chat, VODs',
  migrations,
  create: () => ({}),
});
