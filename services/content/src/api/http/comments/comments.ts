import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { createComment, deleteComment, likeComment, listComments, MAX_COMMENT_LENGTH, unlikeComment } from '../../../domain/comments.js';
import { viewerOf } from '../../../domain/visibility.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, IdParams, NullableUuid, PageQuery, Uuid } from '../schemas.js';

export const CommentSchema = Type.Object({
  id: Uuid,
  post_id: Uuid,
  parent_id: NullableUuid,
  deleted: Type.Boolean({ description: 'a tombstone: a deleted comment kept in place because it has live replies (no text, no author)' }),
  text: Type.Union([Type.String(), Type.Null()]),
  author: Type.Union([Type.Object({ id: Uuid, username: Type.String() }), Type.Null()]),
  like_count: Type.Integer({ minimum: 0 }),
  reply_count: Type.Integer({ minimum: 0, description: 'live direct replies' }),
  liked_by_me: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

const CommentPage = Type.Object({
  comments: Type.Array(CommentSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }),
});

const NewComment = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: MAX_COMMENT_LENGTH }),
    parent_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const CommentQuery = Type.Object(
  { ...PageQuery.properties, parent_id: Type.Optional(Type.String({ format: 'uuid', description: 'list the replies of this comment instead of the top level' })) },
  { additionalProperties: false },
);

const CommentLikeState = Type.Object({ liked: Type.Literal(true), like_count: Type.Integer({ minimum: 0 }) });

/** Comments on posts: create, list (threads), delete, and likes of comments. */
export function commentRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/posts/:id/comments',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Comment on a post, or reply to a comment',
        description:
          'A reply (`parent_id`) must answer a live comment of the same post whose author is not blocked with the caller (404 otherwise). Raises the post\'s comment_count and the parent\'s reply_count; CommentCreated. 404 for a post the caller may not see.',
        security: bearer,
        params: IdParams,
        body: NewComment,
        response: { 201: CommentSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const view = await createComment(ctx, viewerOf(req.identity), req.params.id, req.body, { correlationId: req.correlationId });
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/api/v1/posts/:id/comments',
    {
      config: { auth: 'optional' },
      schema: {
        summary: "A post's comments, or the replies of one comment",
        description:
          'Top level: newest first. With `parent_id`: the replies of that comment, oldest first. Deleted comments are hidden unless they have live replies, then shown as tombstones (deleted: true, text and author null). Comments by users blocked by or blocking the viewer are left out (a page may be shorter than `limit` while `next_cursor` is set). 404 for a post the viewer may not see.',
        params: IdParams,
        querystring: CommentQuery,
        response: { 200: CommentPage, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => listComments(ctx, viewerOf(req.identity), req.params.id, req.query),
  );

  app.delete(
    '/api/v1/comments/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Delete a comment',
        description:
          "Soft delete, by the comment's author, the post's author or a moderator (403 for anyone else who can see it, 404 for those who cannot). Replies stay; CommentDeleted.",
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      await deleteComment(ctx, identity(req), req.params.id, { correlationId: req.correlationId });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/comments/:id/like',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Like a comment',
        description: '201: liked now; 200: it already was. 404 for a deleted comment and for one the caller may not see.',
        security: bearer,
        params: IdParams,
        response: { 200: CommentLikeState, 201: CommentLikeState, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { changed, like_count } = await likeComment(ctx, viewerOf(req.identity), req.params.id);
      return reply.code(changed ? 201 : 200).send({ liked: true, like_count });
    },
  );

  app.delete(
    '/api/v1/comments/:id/like',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Take back a comment's like",
        description: 'Idempotent: 204 whenever afterwards the caller does not like the comment.',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unlikeComment(ctx, viewerOf(req.identity), req.params.id);
      return reply.code(204).send(null);
    },
  );
}
