import type { ColumnType } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Counter = ColumnType<number, number | undefined, number>;

export type PostVisibility = 'public' | 'followers' | 'private';
export type StoryAudience = 'public' | 'followers' | 'close_friends';

export interface PostsTable {
  id: string;
  author_id: string;
  text: ColumnType<string, string | undefined, string>;
  media_ids: ColumnType<string[], string[] | undefined, string[]>;
  visibility: PostVisibility;
  reply_to_id: string | null;
  quote_of_id: string | null;
  idempotency_key: string | null;
  like_count: Counter;
  comment_count: Counter;
  repost_count: Counter;
  bookmark_count: Counter;
  quote_count: Counter;
  created_at: Timestamp;
  updated_at: Timestamp;
  edited_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface PostEditsTable {
  id: string;
  post_id: string;
  text: string;
  visibility: PostVisibility;
  edited_at: Timestamp;
}

export interface PostHashtagsTable {
  post_id: string;
  tag: string;
  created_at: Timestamp;
}

export interface PostMentionsTable {
  post_id: string;
  user_id: string;
}

export interface PostReactionTable {
  post_id: string;
  user_id: string;
  created_at: Timestamp;
}

export interface CommentsTable {
  id: string;
  post_id: string;
  author_id: string;
  parent_id: string | null;
  text: string;
  like_count: Counter;
  reply_count: Counter;
  created_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface CommentLikesTable {
  comment_id: string;
  user_id: string;
  created_at: Timestamp;
}

export interface StoriesTable {
  id: string;
  author_id: string;
  media_id: string;
  caption: string | null;
  audience: StoryAudience;
  view_count: Counter;
  created_at: Timestamp;
  expires_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface StoryViewsTable {
  story_id: string;
  viewer_id: string;
  viewed_at: Timestamp;
}

export interface CloseFriendsTable {
  user_id: string;
  friend_id: string;
  created_at: Timestamp;
}

export interface ContentDb {
  posts: PostsTable;
  post_edits: PostEditsTable;
  post_hashtags: PostHashtagsTable;
  post_mentions: PostMentionsTable;
  likes: PostReactionTable;
  bookmarks: PostReactionTable;
  reposts: PostReactionTable;
  comments: CommentsTable;
  comment_likes: CommentLikesTable;
  stories: StoriesTable;
  story_views: StoryViewsTable;
  close_friends: CloseFriendsTable;
}
