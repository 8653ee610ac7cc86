import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { roleAtLeast, type AuthIdentity } from './claims.js';
import { bearerToken, invalidCredentials, missingCredentials } from './bearer.js';
import type { AccessTokenVerifier } from './verifier.js';

/**
 * What a route demands of the caller (`config: { auth: 'required' }`):
 * - `required`: a valid access token;
 * - `optional`: none, or a valid one (an invalid token is refused, not ignored);
 * - `moderator`, `admin`: a valid token whose role is at least that (admin ⊇ moderator).
 * A route without `auth` is public and its requests carry no identity, whatever header they send.
 */
export const AUTH_MODES = ['required', 'optional', 'moderator', 'admin'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Authentication the route requires, enforced by `registerAuth` (absent: public route). */
    auth?: AuthMode;
  }
  interface FastifyRequest {
    /** The caller, from a verified access token (set by `registerAuth` on routes with `config.auth`). */
    identity: AuthIdentity | undefined;
  }
}

export interface RegisterAuthOptions {
  /**
   * Adds `security: [{ bearerAuth: [] }]` (optional routes: `[{ bearerAuth: [] }, {}]`) to the OpenAPI
   * schema of routes with `config.auth` that declare no `security` of their own (default true).
   */
  openApiSecurity?: boolean;
}

/**
 * Authentication for every route with `config: { auth }`, as one global `onRequest` hook (before the body
 * is read, and before the rate limiter's `preHandler`, so `getUserId` sees the user). Reads only
 * `Authorization: Bearer <token>`; sets `request.identity`. Refusals are AppErrors for the global error
 * handler: 401 UNAUTHENTICATED with a `WWW-Authenticate: Bearer` challenge, 403 FORBIDDEN for a role that
 * is too low, 503 when auth's keys cannot be fetched.
 *
 * Call it on the root instance before any service registers routes; an unknown mode fails the boot.
 */
export function registerAuth<App extends FastifyInstance>(app: App, verifier: AccessTokenVerifier, opts: RegisterAuthOptions = {}): void {
  if (!app.hasRequestDecorator('identity')) app.decorateRequest('identity', undefined);
  const openApi = opts.openApiSecurity ?? true;

  app.addHook('onRoute', (route) => {
    const mode = route.config?.auth;
    if (mode === undefined) return;
    if (!isAuthMode(mode)) throw new Error(`route ${route.method} ${route.url}: unknown auth mode ${JSON.stringify(mode)} (one of ${AUTH_MODES.join(', ')})`);
    if (openApi) {
      const schema = (route.schema ?? {}) as { security?: unknown };
      if (schema.security === undefined) route.schema = { ...schema, security: mode === 'optional' ? [{ bearerAuth: [] }, {}] : [{ bearerAuth: [] }] };
    }
  });

  app.addHook('onRequest', async (req) => {
    const mode = req.routeOptions.config?.auth;
    if (mode === undefined) return;
    // A mode set on a route added before this hook was registered escaped the onRoute check: fail closed.
    if (!isAuthMode(mode)) throw new AppError('INTERNAL', `unknown auth mode ${JSON.stringify(mode)}`);
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      if (mode === 'optional') return;
      throw missingCredentials();
    }
    let identity: AuthIdentity;
    try {
      identity = await verifier.verify(token, { logger: req.log });
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHENTICATED') throw invalidCredentials(err);
      throw err;
    }
    req.identity = identity;
    if ((mode === 'moderator' || mode === 'admin') && !roleAtLeast(identity.role, mode)) {
      throw new AppError('FORBIDDEN', `this requires the ${mode} role`);
    }
  });
}

/** The authenticated user's id, for `registerRateLimit({ getUserId })`: per-user limits on authenticated routes. */
export const getUserId = (req: FastifyRequest): string | undefined => req.identity?.userId;

function isAuthMode(mode: unknown): mode is AuthMode {
  return typeof mode === 'string' && (AUTH_MODES as readonly string[]).includes(mode);
}
