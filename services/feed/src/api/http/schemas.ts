import { Type, Uuid } from '@nova/platform';
import type { HydratedItem } from '../../domain/home.js';

/** Schemas of the feed's routes. */

const Cursor = Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'next_cursor of the previous page' }));
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 }));
export const Window = Type.Optional(Type.Union([Type.Literal('1h'), Type.Literal('24h'), Type.Literal('7d')], { default: '24h', description: 'the trending window' }));

export const FeedQuery = Type.Object(
  {
    limit: Limit,
    cursor: Cursor,
    mode: Type.Optional(Type.Union([Type.Literal('ranked'), Type.Literal('latest')], { default: 'ranked', description: '`ranked` (score order over a snapshot taken on the first page) or `latest` (newest first)' })),
  },
  { additionalProperties: false },
);

export const TrendingQuery = Type.Object({ limit: Limit, cursor: Cursor, window: Window }, { additionalProperties: false });
export const HashtagsQuery = Type.Object({ limit: Limit, window: Window }, { additionalProperties: false });

export const ViewsBody = Type.Object({ post_ids: Type.Array(Uuid, { minItems: 1, maxItems: 100, description: 'posts the client showed the reader' }) }, { additionalProperties: false });

const FeedPost = Type.Object({
  id: Uuid,
  author_id: Uuid,
  text: Type.String(),
  media_ids: Type.Array(Uuid),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('followers'), Type.Literal('private')]),
  reply_to: Type.Union([Uuid, Type.Null()]),
  quote_of: Type.Union([Uuid, Type.Null()]),
  like_count: Type.Integer({ minimum: 0 }),
  comment_count: Type.Integer({ minimum: 0 }),
  repost_count: Type.Integer({ minimum: 0 }),
  bookmark_count: Type.Integer({ minimum: 0 }),
  quote_count: Type.Integer({ minimum: 0 }),
  created_at: Type.String({ format: 'date-time' }),
  edited_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const FeedAuthor = Type.Object({
  id: Uuid,
  username: Type.String(),
  display_name: Type.Union([Type.String(), Type.Null()]),
  avatar_media_id: Type.Union([Uuid, Type.Null()]),
  is_private: Type.Boolean(),
});

export const FeedItemSchema = Type.Object({
  post: FeedPost,
  author: FeedAuthor,
  reason: Type.Union([Type.Literal('own'), Type.Literal('following'), Type.Literal('repost'), Type.Literal('trending')], {
    description: '`own` post, an author the reader follows, a `repost` by someone followed (see reposted_by), or a `trending` pick',
  }),
  reposted_by: Type.Union([Uuid, Type.Null()]),
  score: Type.Number({ description: 'ranked feed score, or decayed trending score; 0 in latest mode' }),
});

export const FeedPageSchema = Type.Object({ items: Type.Array(FeedItemSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const HashtagsSchema = Type.Object({ items: Type.Array(Type.Object({ tag: Type.String(), score: Type.Number() })) });

export function itemJson(i: HydratedItem) {
  const p = i.post;
  return {
    post: {
      id: p.id,
      author_id: p.author_id,
      text: p.text,
      media_ids: p.media_ids,
      visibility: p.visibility as 'public' | 'followers' | 'private',
      reply_to: p.reply_to_id ?? null,
      quote_of: p.quote_of_id ?? null,
      like_count: Number(p.like_count),
      comment_count: Number(p.comment_count),
      repost_count: Number(p.repost_count),
      bookmark_count: Number(p.bookmark_count),
      quote_count: Number(p.quote_count),
      created_at: p.created_at,
      edited_at: p.edited_at ?? null,
    },
    author: { id: i.author.id, username: i.author.username, display_name: i.author.display_name ?? null, avatar_media_id: i.author.avatar_media_id ?? null, is_private: i.author.is_private },
    reason: i.reason,
    reposted_by: i.repostedBy,
    score: i.score,
  };
}
