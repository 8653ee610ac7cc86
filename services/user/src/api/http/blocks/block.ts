import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { block, unblock } from '../../../domain/blocks.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, UserIdParams } from '../schemas.js';

const BlockBody = Type.Object({ blocking: Type.Literal(true) });

export function blockRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/users/:id/block',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Block a user',
        description:
          'Ends follows in both directions and pending follow requests both ways; from then on each is hidden from the other. 201: blocked now; 200: already blocked. 404 for a missing or deleted user, and for one who blocks the caller.',
        security: bearer,
        params: UserIdParams,
        response: { 200: BlockBody, 201: BlockBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const { changed } = await block(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(changed ? 201 : 200).send({ blocking: true });
    },
  );

  app.delete(
    '/api/v1/users/:id/block',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Unblock a user (follows the block ended are not restored)',
        description: 'Idempotent: 204 whenever afterwards the caller does not block the user.',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unblock(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
