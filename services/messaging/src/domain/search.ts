import { AppError, decodePosition, encodePosition, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as mq from '../db/queries/messages.js';
import { memberOf } from './access.js';
import { words } from './body-crypto.js';
import type { Page } from './conversations.js';
import { messageView, type MessageView } from './views.js';

export const MAX_QUERY = 200;
export const MAX_QUERY_WORDS = 8;

/**
 * Whole-word search over the caller's messages (every word of the query must occur), newest first, in one
 * conversation or in all the caller's conversations (history before they joined a group excluded). The
 * match runs on the blind index (keyed hashes of words), so it finds whole words only: no prefixes, no
 * stemming, and scripts written without spaces match only whole runs of text.
 */
export async function searchMessages(ctx: AppContext, caller: AuthIdentity, query: string, opts: { conversationId?: string | undefined; limit: number; cursor?: string | undefined }): Promise<Page<MessageView>> {
  const ws = words(query);
  if (ws.length === 0) throw new AppError('VALIDATION_FAILED', 'q needs at least one word', { details: { field: 'q' } });
  if (ws.length > MAX_QUERY_WORDS) throw new AppError('VALIDATION_FAILED', `q has at most ${MAX_QUERY_WORDS} words`, { details: { field: 'q' } });
  const before = decodePosition(opts.cursor);
  // One conversation: its membership answers 404 for outsiders; all of them: the query joins the memberships.
  const conversationId = opts.conversationId !== undefined ? (await memberOf(ctx.db, opts.conversationId, caller.userId)).conversation.id : undefined;
  const rows = await mq.search(ctx.db, caller.userId, conversationId, ctx.cipher.queryTerms(query), opts.limit + 1, before);
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return { items: page.map((r) => messageView(ctx, r)), next_cursor: rows.length > opts.limit && last ? encodePosition(last.position_at, last.id) : null };
}
