import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import type { AuthIdentity } from '../auth/claims.js';

/** Schemas and request helpers every service's routes share. */

/** The body of every error answer (see errors/). */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

/** OpenAPI security requirement of a route that takes an access token. */
export const bearer = [{ bearerAuth: [] }];

export const Uuid = Type.String({ format: 'uuid' });

/** The verified caller of a route declared with `config: { auth: 'required' }`: the only source of identity. */
export function requireIdentity(req: FastifyRequest): AuthIdentity {
  if (!req.identity) throw new AppError('UNAUTHENTICATED', 'authentication required');
  return req.identity;
}

/** What domain calls that write events take from the request: its correlation id. */
export function requestMeta(req: FastifyRequest): { correlationId: string } {
  return { correlationId: req.correlationId };
}
