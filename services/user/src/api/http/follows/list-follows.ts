import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listFollows } from '../../../domain/follows.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, PageQuery, ProfileSchema, UserIdParams } from '../schemas.js';

const FollowPage = Type.Object({
  users: Type.Array(Type.Object({ ...ProfileSchema.properties, followed_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }),
});

const PRIVACY =
  "Newest follow first. A private account's lists are shown to its owner and approved followers only (403 FORBIDDEN with details.reason `private_account` for others); users blocked by or blocking the viewer are left out; 404 for a missing or deleted user and for one blocked by or blocking the viewer.";

/** GET /users/:id/followers and /following (token optional), and the caller's own at /users/me/... */
export function followListRoutes(app: HttpApp, ctx: AppContext): void {
  for (const direction of ['followers', 'following'] as const) {
    const summary = direction === 'followers' ? 'Who follows the user' : 'Whom the user follows';
    app.get(
      `/api/v1/users/:id/${direction}`,
      {
        config: { auth: 'optional' },
        schema: { summary, description: PRIVACY, params: UserIdParams, querystring: PageQuery, response: { 200: FollowPage, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody } },
      },
      async (req) => listFollows(ctx, req.identity?.userId, req.params.id, direction, req.query),
    );
    app.get(
      `/api/v1/users/me/${direction}`,
      {
        config: { auth: 'required' },
        schema: { summary: `${summary} (the caller)`, security: bearer, querystring: PageQuery, response: { 200: FollowPage, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody } },
      },
      async (req) => {
        const me = identity(req).userId;
        return listFollows(ctx, me, me, direction, req.query);
      },
    );
  }
}
