import { defineService, eventFilter } from '@nova/platform';
import { userGrpc } from './api/grpc/user-service.js';
import { routes } from './api/http/routes.js';
import { createContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { onUserDeleted, onUserRegistered } from './domain/lifecycle.js';
import { onPostEvent } from './domain/post-count.js';
import type { UsersDb } from './db/schema.js';

/** Profiles, the follow graph, follow requests (private accounts), blocks, mutes and settings. */
export const userService = defineService({
  name: 'user',
  description: 'profiles, follow graph, follow requests, blocks, mutes, settings',
  migrations,
  create(deps) {
    const ctx = createContext(deps);
    const prefix = deps.platform.NATS_SUBJECT_PREFIX;
    // One durable consumer per reaction (NATS 2.9: one subject filter each).
    deps.consumer({
      purpose: 'profile-create',
      filterSubject: eventFilter(prefix, 'auth', 'user', 'registered'),
      handler: (tx, event) => onUserRegistered(tx.withSchema('users'), event),
    });
    deps.consumer({
      purpose: 'profile-delete',
      filterSubject: eventFilter(prefix, 'auth', 'user', 'deleted'),
      handler: (tx, event) => onUserDeleted(tx.withSchema('users'), event),
    });
    deps.consumer({
      purpose: 'post-count',
      filterSubject: eventFilter(prefix, 'content', 'post'),
      handler: (tx, event) => onPostEvent(tx.withSchema('users'), event),
    });
    return { http: routes(ctx), grpc: [userGrpc(ctx)] };
  },
});

export type { UsersDb };
