/**
 * The twelve services, in start-up order: the PostgreSQL schema each owns, its pool size (overridable by
 * DB_POOL_MAX_<NAME>), and the name its status has in the gRPC health service.
 */
export const SERVICES = {
  auth: { schema: 'auth', poolMax: 8, healthName: 'nova.auth.v1' },
  user: { schema: 'users', poolMax: 6, healthName: 'nova.user.v1' },
  content: { schema: 'content', poolMax: 8, healthName: 'nova.content.v1' },
  feed: { schema: 'feed', poolMax: 6, healthName: 'nova.feed.v1' },
  media: { schema: 'media', poolMax: 4, healthName: 'nova.media.v1' },
  video: { schema: 'video', poolMax: 3, healthName: 'nova.video.v1' },
  streaming: { schema: 'streaming', poolMax: 4, healthName: 'nova.streaming.v1' },
  messaging: { schema: 'messaging', poolMax: 8, healthName: 'nova.messaging.v1' },
  search: { schema: 'search', poolMax: 4, healthName: 'nova.search.v1' },
  notification: { schema: 'notification', poolMax: 4, healthName: 'nova.notification.v1' },
  cdn: { schema: 'cdn', poolMax: 2, healthName: 'nova.cdn.v1' },
  events: { schema: 'events', poolMax: 4, healthName: 'nova.events.v1' },
} as const;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

export function isServiceName(s: string): s is ServiceName {
  return Object.hasOwn(SERVICES, s);
}
