import { Type, bearer, ErrorBody, Uuid } from '@nova/platform';
import type { PostView } from '../../domain/posts.js';

/** Shared by every service's routes (the platform's). */
export { ErrorBody, bearer, Uuid };

/** Schemas shared by the content service's routes. */

export const NullableUuid = Type.Union([Uuid, Type.Null()]);

/** `:id` in a path. */
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const Visibility = Type.Union([Type.Literal('public'), Type.Literal('followers'), Type.Literal('private')], {
  description: '`public`: everyone (followers only when the account is private); `followers`: approved followers; `private`: the author only',
});

/** A page of a keyset-paginated list: `next_cursor` is null on the last page. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

/** A post as a viewer allowed to see it sees it. */
export const PostSchema = Type.Object({
  id: Uuid,
  author_id: Uuid,
  text: Type.String(),
  media_ids: Type.Array(Uuid),
  visibility: Visibility,
  reply_to: NullableUuid,
  quote_of: NullableUuid,
  hashtags: Type.Array(Type.String(), { description: 'lower-cased, without `#`' }),
  mentions: Type.Array(Uuid, { description: 'ids of the users @mentioned (unknown usernames are left out)' }),
  like_count: Type.Integer({ minimum: 0 }),
  comment_count: Type.Integer({ minimum: 0 }),
  repost_count: Type.Integer({ minimum: 0 }),
  bookmark_count: Type.Integer({ minimum: 0 }),
  quote_count: Type.Integer({ minimum: 0 }),
  liked: Type.Boolean({ description: 'the caller likes it (false when anonymous)' }),
  bookmarked: Type.Boolean(),
  reposted: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  edited_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const PostPage = Type.Object({ items: Type.Array(PostSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) });

/** The JSON of a post view. */
export function postJson(v: PostView) {
  const p = v.post;
  return {
    id: p.id,
    author_id: p.author_id,
    text: p.text,
    media_ids: p.media_ids,
    visibility: p.visibility,
    reply_to: p.reply_to_id,
    quote_of: p.quote_of_id,
    hashtags: v.hashtags,
    mentions: v.mentions,
    like_count: p.like_count,
    comment_count: p.comment_count,
    repost_count: p.repost_count,
    bookmark_count: p.bookmark_count,
    quote_count: p.quote_count,
    liked: v.liked,
    bookmarked: v.bookmarked,
    reposted: v.reposted,
    created_at: p.created_at.toISOString(),
    edited_at: p.edited_at?.toISOString() ?? null,
  };
}
