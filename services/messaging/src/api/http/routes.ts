import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { e2eeRoutes } from './e2ee/e2ee.js';
import { conversationRoutes } from './conversations/conversations.js';
import { messageRoutes } from './messages/messages.js';
import { presenceRoutes } from './presence/presence.js';
import { reactionRoutes } from './reactions/reactions.js';
import { receiptRoutes } from './receipts/read.js';
import { searchRoutes } from './search/search.js';

/** Every HTTP route of the messaging service. Add a route module to the list to register it. */
export function routes(ctx: AppContext) {
  return (app: HttpApp) => {
    for (const route of [conversationRoutes, messageRoutes, reactionRoutes, receiptRoutes, searchRoutes, presenceRoutes, e2eeRoutes]) route(app, ctx);
  };
}
