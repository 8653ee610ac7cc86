import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { MAX_QUERY, MAX_QUERY_WORDS, searchMessages } from '../../../domain/search.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, MessageSchema, NextCursor, Uuid } from '../schemas.js';

export function searchRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/conversations/search',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Search the caller's messages",
        description: `Messages containing every word of \`q\` (at most ${MAX_QUERY_WORDS} words; case and accents as typed are normalised by NFKC and lower case), newest first, in all the caller's conversations or in \`conversation_id\`. Whole words only: no prefixes or stemming (the index holds keyed hashes of words, not the words). Keyset-paginated.`,
        security: bearer,
        querystring: Type.Object(
          {
            q: Type.String({ minLength: 1, maxLength: MAX_QUERY }),
            conversation_id: Type.Optional(Uuid),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(MessageSchema), next_cursor: NextCursor }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => searchMessages(ctx, identity(req), req.query.q, { conversationId: req.query.conversation_id, limit: req.query.limit ?? 20, cursor: req.query.cursor }),
  );
}
