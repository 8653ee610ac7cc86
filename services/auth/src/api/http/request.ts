import type { FastifyRequest } from 'fastify';
import type { ClientMeta } from '../../domain/sessions.js';

/** What the service records about the client: IP (via trusted proxies only), user agent, device name. */
export function clientMeta(req: FastifyRequest): ClientMeta {
  const ua = req.headers['user-agent'];
  const device = req.headers['x-device-name'];
  return {
    ip: req.ip ?? null,
    userAgent: typeof ua === 'string' ? ua : null,
    device: typeof device === 'string' ? device : null,
    correlationId: req.correlationId,
  };
}

/** The verified caller of a route declared with `config: { auth: 'required' }` (the platform's). */
export { requireIdentity as identity } from '@nova/platform';
