import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { viewRelationship } from '../../../domain/relationship.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, UserIdParams } from '../schemas.js';

const RelationshipBody = Type.Object({
  following: Type.Boolean({ description: 'the caller follows the user' }),
  followed_by: Type.Boolean({ description: 'the user follows the caller' }),
  requested: Type.Boolean({ description: "the caller's follow request to the user is pending" }),
  requested_by: Type.Boolean({ description: "the user's follow request to the caller is pending" }),
  blocking: Type.Boolean({ description: 'the caller blocks the user' }),
  blocked_by: Type.Boolean({ description: 'always false here: a user who blocks the caller answers 404, like their profile' }),
  muting: Type.Boolean({ description: 'the caller mutes the user (a mute that has not expired)' }),
});

export function relationshipRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/:id/relationship',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'How the caller and a user are related',
        description: '404 for a missing or deleted user and for one who blocks the caller (a block is never revealed to the blocked). For oneself every flag is false.',
        security: bearer,
        params: UserIdParams,
        response: { 200: RelationshipBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => viewRelationship(ctx, identity(req).userId, req.params.id),
  );
}
