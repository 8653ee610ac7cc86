import { AppError, type AuthIdentity } from '@nova/platform';
import type { FastifyRequest } from 'fastify';

/** The verified caller of a route declared with `config: { auth: 'required' }`: the only source of identity. */
export function identity(req: FastifyRequest): AuthIdentity {
  if (!req.identity) throw new AppError('UNAUTHENTICATED', 'authentication required');
  return req.identity;
}

/** What domain calls that write events take from the request. */
export function requestMeta(req: FastifyRequest): { correlationId: string } {
  return { correlationId: req.correlationId };
}
