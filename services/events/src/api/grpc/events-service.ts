import { eventsV1 } from '@nova/proto';
import { unary, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { getEvent, listEvents, type EventView } from '../../domain/archive.js';
import { outboxStatus } from '../../domain/outbox-status.js';

function toProto(e: EventView): eventsV1.Event {
  return { ...e, correlation_id: e.correlation_id ?? '', data_json: JSON.stringify(e.data) };
}

const orUndefined = (s: string) => (s === '' ? undefined : s);

/** nova.events.v1.EventsService: the archive and outbox lag for internal callers (any verified service). */
export function eventsGrpc(ctx: AppContext): GrpcServiceRegistration {
  const implementation: eventsV1.EventsServiceServer = {
    listEvents: unary(async (req: eventsV1.ListEventsRequest) => {
      const page = await listEvents(ctx, {
        type: orUndefined(req.type),
        source: orUndefined(req.source),
        subject: orUndefined(req.subject),
        correlation_id: orUndefined(req.correlation_id),
        from: orUndefined(req.from),
        to: orUndefined(req.to),
        limit: req.limit || undefined,
        cursor: orUndefined(req.cursor),
      });
      return { events: page.events.map(toProto), next_cursor: page.next_cursor ?? '' };
    }),
    getEvent: unary(async (req: eventsV1.GetEventRequest) => ({ event: toProto(await getEvent(ctx, req.id)) })),
    getOutboxStatus: unary(async () => ({
      services: (await outboxStatus(ctx)).map((s) => ({ ...s, last_error: s.last_error ?? '' })),
    })),
  };
  return { definition: eventsV1.EventsServiceService, implementation, allow: { '*': ['*'] } };
}
