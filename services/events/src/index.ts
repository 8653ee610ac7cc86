import { defineService, eventFilter } from '@nova/platform';
import { eventsGrpc } from './api/grpc/events-service.js';
import { routes } from './api/http/routes.js';
import { eventsConfig } from './config.js';
import { createContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { archive } from './domain/archive.js';

/** The event archive (audit log of every event on the bus), outbox lag, dead letters and replay. */
export const eventsService = defineService({
  name: 'events',
  description: 'event archive (audit log), outbox lag per service, dead letters and replay',
  config: eventsConfig,
  migrations,
  create(deps) {
    const ctx = createContext(deps);
    deps.consumer({
      purpose: 'archive',
      filterSubject: eventFilter(ctx.prefix),
      // A replayed event arrives on <prefix>_replay.<consumer>.<rest>: archive it under <prefix>.<rest>.
      handler: (tx, event, meta) => archive(tx.withSchema('events'), event, meta.replay ? [ctx.prefix, ...meta.subject.split('.').slice(2)].join('.') : meta.subject),
    });
    return { http: routes(ctx), grpc: [eventsGrpc(ctx)] };
  },
});
