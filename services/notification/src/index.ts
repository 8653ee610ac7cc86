import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const notificationService = defineService({
  name: 'notification',
  description: 'in-app notifications, preferences, device tokens, FCM/APNs push',
  migrations,
  create: () => ({}),
});
