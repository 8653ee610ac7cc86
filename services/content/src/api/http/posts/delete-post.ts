import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { deletePost } from '../../../domain/posts.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, IdParams } from '../schemas.js';

export function deletePostRoute(app: HttpApp, ctx: AppContext): void {
  app.delete(
    '/api/v1/posts/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Delete a post (author or moderator)',
        description: 'Soft delete (deleted_by = the caller); the post then vanishes from every read. Emits PostDeleted. 403 for someone else who can see the post, 404 for one who cannot and for a post already deleted.',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await deletePost(ctx, identity(req), req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
