import { Type } from '@nova/platform';

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

export const EventSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String(),
  version: Type.Integer(),
  source: Type.String(),
  subject: Type.String(),
  nats_subject: Type.String(),
  occurred_at: Type.String({ format: 'date-time' }),
  correlation_id: Type.Union([Type.String(), Type.Null()]),
  data: Type.Unknown(),
});

/** The admin token (EVENTS_ADMIN_TOKEN) as a bearer token. */
export const adminSecurity = [{ bearerAuth: [] }];
