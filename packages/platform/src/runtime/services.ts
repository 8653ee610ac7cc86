/** The twelve services, in start-up order, with their database pool sizes (overridable by DB_POOL_MAX_<NAME>). */
export const SERVICES = {
  auth: { poolMax: 8, healthName: 'nova.auth.v1' },
  user: { poolMax: 6, healthName: 'nova.user.v1' },
  content: { poolMax: 8, healthName: 'nova.content.v1' },
  feed: { poolMax: 6, healthName: 'nova.feed.v1' },
  media: { poolMax: 4, healthName: 'nova.media.v1' },
  video: { poolMax: 3, healthName: 'nova.video.v1' },
  streaming: { poolMax: 4, healthName: 'nova.streaming.v1' },
  messaging: { poolMax: 8, healthName: 'nova.messaging.v1' },
  search: { poolMax: 4, healthName: 'nova.search.v1' },
  notification: { poolMax: 4, healthName: 'nova.notification.v1' },
  cdn: { poolMax: 2, healthName: 'nova.cdn.v1' },
  events: { poolMax: 4, healthName: 'nova.events.v1' },
} as const;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

export function isServiceName(s: string): s is ServiceName {
  return Object.hasOwn(SERVICES, s);
}
