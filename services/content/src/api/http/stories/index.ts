import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { closeFriendRoutes } from '../close-friends/close-friends.js';
import { storyRoutes } from './stories.js';

/** Every story route: /api/v1/stories (posting, feed, views, viewers, delete) and /api/v1/stories/close-friends. */
export function storyHttp(app: HttpApp, ctx: AppContext): void {
  closeFriendRoutes(app, ctx);
  storyRoutes(app, ctx);
}
