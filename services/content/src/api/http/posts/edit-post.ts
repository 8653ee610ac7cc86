import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { editPost, MAX_TEXT, TEXT_PATTERN } from '../../../domain/posts.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, IdParams, PostSchema, postJson, Visibility } from '../schemas.js';

const EditPostBody = Type.Object(
  { text: Type.Optional(Type.String({ maxLength: MAX_TEXT, pattern: TEXT_PATTERN })), visibility: Type.Optional(Visibility) },
  { additionalProperties: false, minProperties: 1 },
);

export function editPostRoute(app: HttpApp, ctx: AppContext): void {
  app.patch(
    '/api/v1/posts/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Edit a post (author only)',
        description: 'Text and/or visibility. The replaced version is kept (GET /:id/history); hashtags and mentions follow the new text. Emits PostUpdated when something changed. 403 for someone else who can see the post, 404 for one who cannot.',
        security: bearer,
        params: IdParams,
        body: EditPostBody,
        response: { 200: PostSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => postJson(await editPost(ctx, identity(req), req.params.id, req.body, requestMeta(req))),
  );
}
