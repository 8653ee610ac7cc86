import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { hashtagPosts, userPosts, type Page, type PostView } from '../../../domain/posts.js';
import { viewerOf } from '../../../domain/visibility.js';
import { bearer, ErrorBody, IdParams, PageQuery, PostPage, postJson } from '../schemas.js';

const TagParams = Type.Object({ tag: Type.String({ minLength: 1, maxLength: 101 }) }, { additionalProperties: false });

const pageJson = (page: Page<PostView>) => ({ items: page.items.map(postJson), next_cursor: page.next_cursor });

export function listPostsRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/:id/posts',
    {
      config: { auth: 'optional' },
      schema: {
        summary: "A user's posts, newest first",
        description: 'Only the posts the caller may see (an empty list when none, e.g. blocked or a private account). A page may be short and still have a next_cursor.',
        security: bearer,
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PostPage, 400: ErrorBody },
      },
    },
    async (req) => pageJson(await userPosts(ctx, viewerOf(req.identity), req.params.id, req.query.limit ?? 20, req.query.cursor)),
  );

  app.get(
    '/api/v1/hashtags/:tag/posts',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'Posts with a hashtag, newest first',
        description: 'The tag without `#` (case-insensitive). Only the posts the caller may see. A page may be short and still have a next_cursor.',
        security: bearer,
        params: TagParams,
        querystring: PageQuery,
        response: { 200: PostPage, 400: ErrorBody },
      },
    },
    async (req) => pageJson(await hashtagPosts(ctx, viewerOf(req.identity), req.params.tag, req.query.limit ?? 20, req.query.cursor)),
  );
}
