import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { getPost, postHistory } from '../../../domain/posts.js';
import { viewerOf } from '../../../domain/visibility.js';
import { bearer, ErrorBody, IdParams, PostSchema, postJson, Visibility } from '../schemas.js';

const HistoryBody = Type.Object({
  items: Type.Array(
    Type.Object({
      text: Type.String(),
      visibility: Visibility,
      since: Type.String({ format: 'date-time', description: 'when this version became current' }),
      until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when an edit replaced it; null for the current version' }),
    }),
    { description: 'every version, the current one first' },
  ),
});

export function getPostRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/posts/:id',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'One post',
        description: '404 alike for a missing, deleted or hidden post (private, followers-only, private account, blocks either way).',
        security: bearer,
        params: IdParams,
        response: { 200: PostSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => postJson(await getPost(ctx, viewerOf(req.identity), req.params.id)),
  );

  app.get(
    '/api/v1/posts/:id/history',
    {
      config: { auth: 'optional' },
      schema: {
        summary: "A post's edit history",
        description: 'Visible to whoever can see the post (404 otherwise).',
        security: bearer,
        params: IdParams,
        response: { 200: HistoryBody, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => {
      const versions = await postHistory(ctx, viewerOf(req.identity), req.params.id);
      return { items: versions.map((v) => ({ text: v.text, visibility: v.visibility, since: v.since.toISOString(), until: v.until?.toISOString() ?? null })) };
    },
  );
}
