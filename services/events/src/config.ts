import { v } from '@nova/platform';

/** The events service's own variables (the shared ones are in the platform spec). */
export const eventsConfig = {
  EVENTS_ADMIN_TOKEN: v.optionalString({ secret: true, minLength: 32, doc: 'static bearer token for the /api/v1/events admin API besides admins\' access tokens (at least 32 characters; unset: admins only)' }),
  EVENTS_REPLAY_MAX: v.int({ default: 100_000, min: 1, doc: 'most events one replay request may publish' }),
};
