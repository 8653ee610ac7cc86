import { AppError, Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { createPost, MAX_IDEMPOTENCY_KEY, MAX_MEDIA, MAX_TEXT, TEXT_PATTERN } from '../../../domain/posts.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, PostSchema, postJson, Uuid, Visibility } from '../schemas.js';

const CreatePostBody = Type.Object(
  {
    text: Type.Optional(Type.String({ maxLength: MAX_TEXT, pattern: TEXT_PATTERN })),
    media_ids: Type.Optional(Type.Array(Uuid, { maxItems: MAX_MEDIA })),
    visibility: Type.Optional(Visibility),
    reply_to: Type.Optional(Uuid),
    quote_of: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

export function createPostRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/posts',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Publish a post',
        description: [
          `Text (at most ${MAX_TEXT} characters) or media (at most ${MAX_MEDIA} ids), or both. Hashtags (#tag, stored lower-cased) and @mentions (resolved to user ids; unknown usernames ignored) come from the text.`,
          'reply_to and quote_of must be posts the caller can see (404 otherwise). Emits PostCreated.',
          `With an \`Idempotency-Key\` header (at most ${MAX_IDEMPOTENCY_KEY} characters), a retry by the same user returns the post the first call made with 200 instead of 201 (the retry's body is not compared).`,
        ].join(' '),
        security: bearer,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY })) }),
        body: CreatePostBody,
        response: { 200: PostSchema, 201: PostSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (Array.isArray(key)) throw new AppError('VALIDATION_FAILED', 'one Idempotency-Key header at most', { details: { field: 'Idempotency-Key' } });
      const { view, created } = await createPost(ctx, identity(req), { ...req.body, visibility: req.body.visibility ?? 'public' }, key, requestMeta(req));
      return reply.code(created ? 201 : 200).send(postJson(view));
    },
  );
}
