import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { PROFILE_LIMITS, updateMe } from '../../../domain/profiles.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, HTTP_URL, MULTI_LINE, NullableText, NullableUuid, ProfileSchema, SINGLE_LINE } from '../schemas.js';

const ProfilePatchBody = Type.Object(
  {
    display_name: Type.Optional(NullableText({ maxLength: PROFILE_LIMITS.display_name, pattern: SINGLE_LINE })),
    bio: Type.Optional(NullableText({ maxLength: PROFILE_LIMITS.bio, pattern: MULTI_LINE })),
    avatar_media_id: Type.Optional(NullableUuid),
    cover_media_id: Type.Optional(NullableUuid),
    location: Type.Optional(NullableText({ maxLength: PROFILE_LIMITS.location, pattern: SINGLE_LINE })),
    website: Type.Optional(NullableText({ maxLength: PROFILE_LIMITS.website, pattern: HTTP_URL, description: 'an http(s) URL' })),
    is_private: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export function updateMeRoute(app: HttpApp, ctx: AppContext): void {
  app.patch(
    '/api/v1/users/me',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Change the caller's profile",
        description: [
          'Only the fields sent change; `null` (or blank text) clears one. Text is trimmed. Limits: display_name 64, bio 300, location 100, website 200 characters (an http(s) URL).',
          'Making a private account public accepts its pending follow requests; making a public account private keeps its followers.',
          'Emits ProfileUpdated with the fields that really changed (nothing when nothing did).',
        ].join(' '),
        security: bearer,
        body: ProfilePatchBody,
        response: { 200: ProfileSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => updateMe(ctx, identity(req).userId, req.body, requestMeta(req)),
  );
}
