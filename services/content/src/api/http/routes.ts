import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { bookmarkRoutes } from './bookmarks/bookmark.js';
import { commentRoutes } from './comments/comments.js';
import { likeRoutes } from './likes/like.js';
import { createPostRoute } from './posts/create-post.js';
import { deletePostRoute } from './posts/delete-post.js';
import { editPostRoute } from './posts/edit-post.js';
import { getPostRoutes } from './posts/get-post.js';
import { listPostsRoutes } from './posts/list-posts.js';
import { repostRoutes } from './reposts/repost.js';
import { storyHttp } from './stories/index.js';

/** Every HTTP route of the content service. Add a route module to the list to register it. */
export function routes(ctx: AppContext) {
  return (app: HttpApp) => {
    for (const route of [createPostRoute, getPostRoutes, editPostRoute, deletePostRoute, listPostsRoutes, likeRoutes, repostRoutes, bookmarkRoutes, commentRoutes, storyHttp]) {
      route(app, ctx);
    }
  };
}
