import { defineService } from '@nova/platform';
import { routes } from './api/http/routes.js';
import { authConfig } from './config.js';
import { createContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { startHousekeeping } from './domain/housekeeping.js';
import { settlePasswordResets } from './domain/passwords.js';

/** Accounts, passwords, sessions, JWT keys and JWKS, OAuth, TOTP 2FA, roles: the identity authority. */
export const authService = defineService({
  name: 'auth',
  description: 'accounts, passwords, sessions, JWT keys and JWKS, OAuth, TOTP 2FA, roles',
  config: authConfig,
  migrations,
  async create(deps) {
    const ctx = createContext(deps);
    await ctx.keys.ensureKey();
    let housekeeping: { stop(): Promise<void> } | undefined;
    return {
      http: routes(ctx),
      start: async () => {
        housekeeping = startHousekeeping(ctx);
      },
      stop: async () => {
        await housekeeping?.stop();
        await settlePasswordResets(ctx);
        ctx.mailer.close();
      },
    };
  },
});

export { createContext } from './context.js';
