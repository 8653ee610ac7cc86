import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { DEFAULT_SUGGESTIONS, MAX_SUGGESTIONS, suggestions } from '../../../domain/suggestions.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, ProfileSchema } from '../schemas.js';

const SuggestionSchema = Type.Object({ ...ProfileSchema.properties, mutual_count: Type.Integer({ minimum: 1, description: 'how many of the people the caller follows follow this person' }) });

export function suggestionsRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/me/suggestions',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'People the caller may want to follow: friends of friends',
        description:
          'People followed by the people the caller follows, most mutual connections first, newest account first among equals. Never the caller, anyone already followed or requested, blocked either way, muted, deleted, or who opted out (privacy.show_in_suggestions). Counted over the caller\'s 1000 most recent follows and their 500 most recent follows each.',
        security: bearer,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SUGGESTIONS, default: DEFAULT_SUGGESTIONS })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(SuggestionSchema) }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => ({ items: await suggestions(ctx, identity(req).userId, req.query.limit) }),
  );
}
