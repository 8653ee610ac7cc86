import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';

export function jwksRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/.well-known/jwks.json',
    {
      config: { rateLimit: 'public' },
      schema: { summary: 'Public keys that verify Nova tokens (active, previous and about-to-activate)', response: { 200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) } },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      return ctx.keys.jwks();
    },
  );
}
