import { Type } from '@nova/platform';
import { Uuid } from '../schemas.js';

/** Schemas of the story and close-friends routes; the shared ones live in ../schemas.ts and ../request.ts. */
export { bearer, ErrorBody, PageQuery, Uuid } from '../schemas.js';
export { identity, requestMeta } from '../request.js';

export const StoryIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const UserIdParams = Type.Object({ userId: Uuid }, { additionalProperties: false });

export const Audience = Type.Union([Type.Literal('public'), Type.Literal('followers'), Type.Literal('close_friends')], {
  description: "public: anyone (a private account's: its followers); followers: approved followers; close_friends: the author's close-friends list",
});

export const StorySchema = Type.Object({
  id: Uuid,
  author_id: Uuid,
  media_id: Uuid,
  caption: Type.Union([Type.String(), Type.Null()]),
  audience: Audience,
  view_count: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: "the author's only; null for everyone else" }),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time', description: '24 hours after created_at' }),
});

export const SeenStorySchema = Type.Object({ ...StorySchema.properties, seen: Type.Boolean({ description: 'the caller has viewed it (always true for their own)' }) });

