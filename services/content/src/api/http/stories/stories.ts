import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { createStory, deleteStory, getStory, listViewers, MAX_CAPTION, storyFeed, viewStory } from '../../../domain/stories.js';
import { Audience, bearer, ErrorBody, identity, PageQuery, requestMeta, SeenStorySchema, StoryIdParams, StorySchema, Uuid } from './schemas.js';

const CreateStoryBody = Type.Object(
  {
    media_id: Uuid,
    caption: Type.Optional(Type.Union([Type.String({ maxLength: MAX_CAPTION }), Type.Null()])),
    audience: Audience,
  },
  { additionalProperties: false, description: 'expires_at is not the client’s to choose: a story expires 24 hours after it is posted' },
);

const FeedSchema = Type.Object({
  groups: Type.Array(
    Type.Object({
      author_id: Uuid,
      has_unseen: Type.Boolean(),
      latest_at: Type.String({ format: 'date-time' }),
      stories: Type.Array(SeenStorySchema, { description: 'oldest first' }),
    }),
  ),
});

const ViewersSchema = Type.Object({
  items: Type.Array(Type.Object({ user_id: Uuid, viewed_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

/** /api/v1/stories: post, read, view and delete stories; the story feed. */
export function storyRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/stories',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Post a story',
        description: 'The story is served for 24 hours from now (not client-chosen), to its audience. Emits StoryCreated.',
        security: bearer,
        body: CreateStoryBody,
        response: { 201: StorySchema, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await createStory(ctx, identity(req).userId, req.body, requestMeta(req))),
  );

  app.get(
    '/api/v1/stories/feed',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Stories of the people I follow, and mine',
        description:
          "Live stories grouped by author. The caller's own group first, then groups holding a story the caller has not seen, then the rest; within each part, the group with the latest story first. Audiences and blocks (either way) apply.",
        security: bearer,
        response: { 200: FeedSchema, 401: ErrorBody },
      },
    },
    async (req) => ({ groups: await storyFeed(ctx, identity(req).userId) }),
  );

  app.get(
    '/api/v1/stories/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'One story',
        description: '404 when it does not exist, was deleted, has expired (at once, before any purge), or is not for the caller.',
        security: bearer,
        params: StoryIdParams,
        response: { 200: SeenStorySchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => getStory(ctx, identity(req).userId, req.params.id),
  );

  app.post(
    '/api/v1/stories/:id/views',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Mark a story viewed',
        description: "Idempotent: the first view counts once, repeats change nothing. The author's own views are not recorded.",
        security: bearer,
        params: StoryIdParams,
        response: { 200: Type.Object({ story_id: Uuid, first_view: Type.Boolean() }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => viewStory(ctx, identity(req).userId, req.params.id),
  );

  app.get(
    '/api/v1/stories/:id/viewers',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Who viewed my story",
        description: 'The author only (403 for someone else who can see the story, 404 for anyone who cannot). Latest view first, cursor-paged.',
        security: bearer,
        params: StoryIdParams,
        querystring: PageQuery,
        response: { 200: ViewersSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => listViewers(ctx, identity(req).userId, req.params.id, req.query),
  );

  app.delete(
    '/api/v1/stories/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Delete my story',
        description: 'The author only; a soft delete (deleted_by = the author). 404 when already deleted.',
        security: bearer,
        params: StoryIdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await deleteStory(ctx, identity(req).userId, req.params.id);
      return reply.code(204).send(null);
    },
  );
}
