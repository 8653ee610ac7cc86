import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listBlocked } from '../../../domain/blocks.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, PageQuery, ProfileSchema } from '../schemas.js';

const BlockedPage = Type.Object({
  users: Type.Array(Type.Object({ ...ProfileSchema.properties, blocked_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export function blockListRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/me/blocks',
    {
      config: { auth: 'required' },
      schema: { summary: 'The people the caller blocks, most recent block first', security: bearer, querystring: PageQuery, response: { 200: BlockedPage, 400: ErrorBody, 401: ErrorBody } },
    },
    async (req) => listBlocked(ctx, identity(req).userId, req.query),
  );
}
