import { defineService, eventFilter } from '@nova/platform';
import { messagingGrpc } from './api/grpc/messaging-service.js';
import { routes } from './api/http/routes.js';
import { wsGateway } from './api/ws/gateway.js';
import { messagingConfig } from './config.js';
import { createContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { onUserDeleted } from './domain/lifecycle.js';
import { resealer } from './domain/reseal.js';
import { envelopePurger } from './e2ee/envelopes.js';
import type { MessagingDb } from './db/schema.js';

/** How often the re-sealer looks again for bodies under a previous key (it runs batch after batch while it finds some). */
const RESEAL_INTERVAL_MS = 60_000;

/** Conversations, messages (encrypted at rest), receipts, reactions, edits and recall, search, and the WebSocket. */
export const messagingService = defineService({
  name: 'messaging',
  description: 'conversations, messages, receipts, reactions, E2EE key server, WebSocket',
  config: messagingConfig,
  migrations,
  create(deps) {
    const ctx = createContext(deps);
    const prefix = deps.platform.NATS_SUBJECT_PREFIX;
    deps.consumer({
      purpose: 'user-deleted',
      filterSubject: eventFilter(prefix, 'auth', 'user', 'deleted'),
      handler: (tx, event) => onUserDeleted(tx.withSchema('messaging'), event),
    });
    const gateway = wsGateway(ctx);
    const reseal = resealer(ctx, { intervalMs: RESEAL_INTERVAL_MS });
    const purger = envelopePurger(ctx);
    return {
      http: async (app) => {
        await gateway.register(app);
        routes(ctx)(app);
      },
      grpc: [messagingGrpc(ctx)],
      start: async () => {
        await ctx.fanout.start();
        gateway.start();
        reseal.start();
        purger.start();
      },
      stop: async () => {
        await purger.stop();
        await reseal.stop();
        await gateway.stop();
        await ctx.fanout.stop();
      },
    };
  },
});

export type { MessagingDb };
