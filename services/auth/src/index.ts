import { defineService } from '@nova/platform';
import { authGrpc } from './api/grpc/auth-service.js';
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
      grpc: [authGrpc(ctx, deps.tokenVerifier)],
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
export { DEFAULT_KEY_ACTIVATION_DELAY_SECONDS, grantRole, KEY_STATUS_MEANING, listKeys, rotateKeys, type KeyInfo, type KeyStatus, type RotateOptions, type RotateResult } from './domain/admin.js';
export { PERMISSIONS, type Permission } from './domain/permissions.js';
