import { defineService, eventFilter } from '@nova/platform';
import { contentGrpc } from './api/grpc/content-service.js';
import { routes } from './api/http/routes.js';
import { createContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { onUserBlocked, onUserDeleted } from './domain/moderation-events.js';
import { storyPurge } from './domain/story-purge.js';
import type { ContentDb } from './db/schema.js';

/** How often the story purge looks for expired stories. */
const STORY_PURGE_INTERVAL_MS = 60_000;

/** Posts (edits, hashtags, mentions, quotes, replies), likes, bookmarks, reposts, comments and stories. */
export const contentService = defineService({
  name: 'content',
  description: 'posts, comments, likes, bookmarks, reposts, hashtags, mentions, stories',
  migrations,
  create(deps) {
    const ctx = createContext(deps);
    // One durable consumer per event type (NATS 2.9: one subject filter each).
    const prefix = deps.platform.NATS_SUBJECT_PREFIX;
    deps.consumer({
      purpose: 'user-deleted',
      filterSubject: eventFilter(prefix, 'auth', 'user', 'deleted'),
      handler: (tx, event) => onUserDeleted(tx.withSchema('content'), event),
    });
    deps.consumer({
      purpose: 'user-blocked',
      filterSubject: eventFilter(prefix, 'user', 'block', 'created'),
      handler: (tx, event) => onUserBlocked(tx.withSchema('content'), event),
    });
    // Soft-deletes expired stories in the background (reads hide them already); every replica may run it.
    const purge = storyPurge(ctx, { intervalMs: STORY_PURGE_INTERVAL_MS });
    return {
      http: routes(ctx),
      grpc: [contentGrpc(ctx)],
      start: async () => purge.start(),
      stop: () => purge.stop(),
    };
  },
});

export type { ContentDb };
