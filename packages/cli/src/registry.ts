import type { ServiceModule, ServiceName } from '@nova/platform';
import { authService } from '@nova/auth';
import { userService } from '@nova/user';
import { contentService } from '@nova/content';
import { feedService } from '@nova/feed';
import { mediaService } from '@nova/media';
import { videoService } from '@nova/video';
import { streamingService } from '@nova/streaming';
import { messagingService } from '@nova/messaging';
import { searchService } from '@nova/search';
import { notificationService } from '@nova/notification';
import { cdnService } from '@nova/cdn';
import { eventsService } from '@nova/events';

/** Every service the `nova` command can run, in start-up order. The CLI is the only place that knows them all. */
export const ALL_SERVICES: ServiceModule<any>[] = [
  authService,
  userService,
  contentService,
  feedService,
  mediaService,
  videoService,
  streamingService,
  messagingService,
  searchService,
  notificationService,
  cdnService,
  eventsService,
];

export function findService(name: string): ServiceModule<any> | undefined {
  return ALL_SERVICES.find((s) => s.name === (name as ServiceName));
}
