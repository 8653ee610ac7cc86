import { AppError, type AuthIdentity, type Role } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { PostVisibility } from '../db/schema.js';

/**
 * Who may see a post. Every read of posts (and of what hangs off them: likes, comments, reposts, quotes,
 * history) goes through this module. The rules:
 * - a deleted post is invisible to everyone, its author and moderators included;
 * - the author always sees their own (live) posts;
 * - a block in either direction hides the post;
 * - `private`: the author only;
 * - `followers`: approved followers only (a pending follow request is not enough);
 * - `public`: everyone, signed in or not — unless the author's ACCOUNT is private, then followers only;
 * - an author the user service does not know (deleted account) shows nothing to anyone else;
 * - roles grant nothing here: moderators and admins see what any user sees (they only gain delete rights).
 * A post the viewer may not see is reported as NOT_FOUND, never FORBIDDEN: its existence is not revealed.
 * When the user service cannot be asked, the AppError (DEPENDENCY_UNAVAILABLE, ...) propagates: a rule is
 * never guessed.
 */

/** The caller as visibility sees it; undefined or no userId = anonymous. Build it with {@link viewerOf}. */
export interface Viewer {
  userId?: string | undefined;
  role?: Role | undefined;
}

/** The columns of a post this module reads (a full `posts` row fits). */
export interface VisibilityTarget {
  author_id: string;
  visibility: PostVisibility;
  deleted_at: Date | null;
}

/** The viewer of a request: `viewerOf(req.identity)` (auth 'optional' or 'required' routes). */
export function viewerOf(identity: AuthIdentity | undefined): Viewer {
  return identity ? { userId: identity.userId, role: identity.role } : {};
}

/** What the user service says about a viewer and a set of authors: the input of {@link decide}. */
export interface AudienceFacts {
  /** Authors with a live profile (absent: unknown or deleted account). */
  liveAuthors: Set<string>;
  /** Live authors whose account is private. */
  privateAuthors: Set<string>;
  /** Authors blocking or blocked by the viewer. */
  blocked: Set<string>;
  /** Authors the viewer follows (approved). */
  followed: Set<string>;
}

/**
 * The relationship facts between `viewer` and `authorIds`, in at most three user-service calls whatever the
 * number of authors: GetProfilesByIds and ListBlocked at once, then FilterFollowed for the authors whose
 * material needs a follow. `needsFollow(authorId, isPrivate)` says which authors those are (default: all).
 * Reusable for other audiences (stories: add close friends on top).
 */
export async function audienceFacts(
  ctx: AppContext,
  viewer: Viewer | undefined,
  authorIds: readonly string[],
  needsFollow: (authorId: string, isPrivate: boolean) => boolean = () => true,
): Promise<AudienceFacts> {
  const viewerId = viewer?.userId;
  const authors = [...new Set(authorIds)].filter((id) => id !== viewerId);
  const facts: AudienceFacts = { privateAuthors: new Set(), liveAuthors: new Set(), blocked: new Set(), followed: new Set() };
  if (authors.length === 0) return facts;
  const [profiles, blocked] = await Promise.all([ctx.users.profiles(authors), viewerId ? ctx.users.blockedEitherWay(viewerId) : Promise.resolve(new Set<string>())]);
  for (const p of profiles.values()) {
    facts.liveAuthors.add(p.id);
    if (p.isPrivate) facts.privateAuthors.add(p.id);
  }
  for (const id of authors) if (blocked.has(id)) facts.blocked.add(id);
  if (viewerId) {
    const ask = authors.filter((id) => facts.liveAuthors.has(id) && !facts.blocked.has(id) && needsFollow(id, facts.privateAuthors.has(id)));
    if (ask.length > 0) facts.followed = await ctx.users.followedAmong(viewerId, ask);
  }
  return facts;
}

/** Whether the post's audience needs the viewer to follow its author (ignoring the author and blocks). */
export function needsFollow(visibility: PostVisibility, authorIsPrivate: boolean): boolean {
  return visibility === 'followers' || (visibility === 'public' && authorIsPrivate);
}

/** The rules above, given the facts: pure, no I/O. */
export function decide(viewer: Viewer | undefined, post: VisibilityTarget, facts: AudienceFacts): boolean {
  if (post.deleted_at !== null) return false;
  if (viewer?.userId !== undefined && viewer.userId === post.author_id) return true;
  if (post.visibility === 'private') return false;
  if (!facts.liveAuthors.has(post.author_id) || facts.blocked.has(post.author_id)) return false;
  if (!needsFollow(post.visibility, facts.privateAuthors.has(post.author_id))) return true;
  return facts.followed.has(post.author_id);
}

/**
 * Whether `viewer` may see `post` (one post: IsBlocked and IsFollowing instead of the list calls; no call
 * at all for the author, a deleted or a `private` post).
 */
export async function canSeePost(ctx: AppContext, viewer: Viewer | undefined, post: VisibilityTarget): Promise<boolean> {
  if (post.deleted_at !== null) return false;
  const viewerId = viewer?.userId;
  if (viewerId !== undefined && viewerId === post.author_id) return true;
  if (post.visibility === 'private') return false;
  const [author, blocked] = await Promise.all([ctx.users.profile(post.author_id), viewerId ? ctx.users.isBlocked(viewerId, post.author_id) : Promise.resolve(false)]);
  if (!author || blocked) return false;
  if (!needsFollow(post.visibility, author.isPrivate)) return true;
  return viewerId !== undefined && (await ctx.users.isFollowing(viewerId, post.author_id));
}

/** Throws NOT_FOUND ('post not found') unless `viewer` may see `post` — the same answer as a missing post. */
export async function assertCanSeePost(ctx: AppContext, viewer: Viewer | undefined, post: VisibilityTarget | undefined): Promise<void> {
  if (!post || !(await canSeePost(ctx, viewer, post))) throw new AppError('NOT_FOUND', 'post not found');
}

/**
 * The posts `viewer` may see, in their order: batched (at most three user-service calls for any number of
 * posts and authors; none when every post is the viewer's own, deleted or private).
 */
export async function visiblePosts<T extends VisibilityTarget>(ctx: AppContext, viewer: Viewer | undefined, posts: readonly T[]): Promise<T[]> {
  const viewerId = viewer?.userId;
  const others = posts.filter((p) => p.deleted_at === null && p.author_id !== viewerId && p.visibility !== 'private');
  const visibilityByAuthor = new Map<string, Set<PostVisibility>>();
  for (const p of others) {
    const set = visibilityByAuthor.get(p.author_id) ?? new Set<PostVisibility>();
    set.add(p.visibility);
    visibilityByAuthor.set(p.author_id, set);
  }
  const facts = await audienceFacts(ctx, viewer, [...visibilityByAuthor.keys()], (authorId, isPrivate) =>
    [...(visibilityByAuthor.get(authorId) ?? [])].some((v) => needsFollow(v, isPrivate)),
  );
  return posts.filter((p) => decide(viewer, p, facts));
}
