import { Type, ErrorBody } from '@nova/platform';

/** Shared by every service's routes (the platform's). */
export { ErrorBody };

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
