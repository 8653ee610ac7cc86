import { AppError, Type, type AuthIdentity } from '@nova/platform';
import type { FastifyRequest } from 'fastify';

/** Schemas and request helpers shared by the story and close-friends routes. */

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

export const bearer = [{ bearerAuth: [] }];

export const Uuid = Type.String({ format: 'uuid' });

export const StoryIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const UserIdParams = Type.Object({ userId: Uuid }, { additionalProperties: false });

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

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

/** The verified caller of a route declared with `config: { auth: 'required' }`: the only source of identity. */
export function identity(req: FastifyRequest): AuthIdentity {
  if (!req.identity) throw new AppError('UNAUTHENTICATED', 'authentication required');
  return req.identity;
}

export function requestMeta(req: FastifyRequest): { correlationId: string } {
  return { correlationId: req.correlationId };
}
