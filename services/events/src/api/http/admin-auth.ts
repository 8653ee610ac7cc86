import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The events API is for administrators. Until the auth service issues admin tokens, the caller proves it
 * with the configured EVENTS_ADMIN_TOKEN as a bearer token (compared in constant time).
 */
export function requireAdmin(app: HttpApp, ctx: AppContext): void {
  const expected = ctx.adminToken ? digest(ctx.adminToken) : undefined;
  app.addHook('onRequest', async (req) => {
    if (!expected) throw new AppError('FORBIDDEN', 'the events admin API is disabled: set EVENTS_ADMIN_TOKEN');
    const token = /^bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new AppError('UNAUTHENTICATED', 'admin bearer token required');
    if (!timingSafeEqual(digest(token), expected)) throw new AppError('FORBIDDEN', 'invalid admin token');
  });
}
