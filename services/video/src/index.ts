import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const videoService = defineService({
  name: 'video',
  description: 'HLS transcoding with ffmpeg, thumbnails, job state',
  migrations,
  create: () => ({}),
});
