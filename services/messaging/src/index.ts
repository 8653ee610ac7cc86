import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const messagingService = defineService({
  name: 'messaging',
  description: 'conversations, messages, receipts, reactions, E2EE key server, WebSocket',
  migrations,
  create: () => ({}),
});
