import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { bookmarkPost, listBookmarks, unbookmarkPost } from '../../../domain/bookmarks.js';
import { viewerOf } from '../../../domain/visibility.js';
import { bearer, ErrorBody, IdParams, PageQuery, PostSchema, postJson } from '../schemas.js';

const BookmarkState = Type.Object({ bookmarked: Type.Literal(true), bookmark_count: Type.Integer({ minimum: 0 }) });

const BookmarkPage = Type.Object({
  items: Type.Array(Type.Object({ ...PostSchema.properties, bookmarked_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }),
});

/** POST/DELETE /posts/:id/bookmark and GET /bookmarks (the caller's own; bookmarks are private). */
export function bookmarkRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/posts/:id/bookmark',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Bookmark a post',
        description: '201: bookmarked now; 200: it already was. Bookmarks are private: no event is published. 404 for a missing or deleted post and for one the caller may not see.',
        security: bearer,
        params: IdParams,
        response: { 200: BookmarkState, 201: BookmarkState, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { changed, ...state } = await bookmarkPost(ctx, viewerOf(req.identity), req.params.id);
      return reply.code(changed ? 201 : 200).send(state);
    },
  );

  app.delete(
    '/api/v1/posts/:id/bookmark',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Remove a bookmark',
        description: 'Idempotent: 204 whenever afterwards the caller has no bookmark of the post.',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unbookmarkPost(ctx, viewerOf(req.identity), req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/bookmarks',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's bookmarks",
        description:
          'Newest bookmark first. Visibility is re-checked at read time: bookmarked posts since deleted or hidden from the caller are left out (a page may be shorter than `limit` while `next_cursor` is set).',
        security: bearer,
        querystring: PageQuery,
        response: { 200: BookmarkPage, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const page = await listBookmarks(ctx, viewerOf(req.identity), req.query);
      return { items: page.items.map((v) => ({ ...postJson(v), bookmarked_at: v.bookmarked_at.toISOString() })), next_cursor: page.next_cursor };
    },
  );
}
