import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, bearerToken, missingCredentials, roleAtLeast, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The events API is for administrators: an access token whose role is `admin`, or — for operators and
 * automation without an account — the configured EVENTS_ADMIN_TOKEN (compared in constant time).
 */
export function requireAdmin(app: HttpApp, ctx: AppContext): void {
  const expected = ctx.adminToken ? digest(ctx.adminToken) : undefined;
  app.addHook('onRequest', async (req) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw missingCredentials();
    if (expected && timingSafeEqual(digest(token), expected)) return;
    // Not the static token: it must be an admin's access token.
    if (token.split('.').length === 3) {
      const who = await ctx.verifier.verify(token, { logger: req.log });
      if (roleAtLeast(who.role, 'admin')) {
        req.identity = who;
        return;
      }
    }
    throw new AppError('FORBIDDEN', 'administrators only');
  });
}
