import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { requireAdmin } from './admin-auth.js';
import { catalogueRoute } from './archive/catalogue.js';
import { getEventRoute } from './archive/get-event.js';
import { listEventsRoute } from './archive/list-events.js';
import { discardRoute } from './dead-letters/discard.js';
import { listDeadLettersRoute } from './dead-letters/list.js';
import { redriveRoute } from './dead-letters/redrive.js';
import { outboxStatusRoute } from './outbox/get-status.js';
import { replayRoute } from './replay/replay.js';

export function routes(ctx: AppContext) {
  return (app: HttpApp) => {
    requireAdmin(app, ctx);
    // Few callers, and dashboards poll: the per-IP `public` preset instead of the per-user `api` one.
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, rateLimit: 'public' };
    });
    for (const route of [listEventsRoute, catalogueRoute, getEventRoute, outboxStatusRoute, listDeadLettersRoute, redriveRoute, discardRoute, replayRoute]) {
      route(app, ctx);
    }
  };
}
