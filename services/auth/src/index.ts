import { defineService } from '@nova/platform';
import { migrations } from './db/migrations/index.js';

/** Its domain arrives with its own issue; today the service owns its schema, relays its outbox and serves health. */
export const authService = defineService({
  name: 'auth',
  description: 'accounts, passwords, sessions, JWT keys and JWKS, OAuth, TOTP 2FA, roles',
  migrations,
  create: () => ({}),
});
