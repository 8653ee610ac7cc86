import type { ColumnType } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Counter = ColumnType<number, number | undefined, number>;

export type PostVisibility = 'public' | 'followers' | 'private';

export interface AuthorsTable {
  id: string;
  is_private: ColumnType<boolean, boolean | undefined, boolean>;
  follower_count: Counter;
  deleted_at: NullableTimestamp;
}

export interface PostsTable {
  id: string;
  author_id: string;
  visibility: PostVisibility;
  is_reply: ColumnType<boolean, boolean | undefined, boolean>;
  hashtags: ColumnType<string[], string[] | undefined, string[]>;
  like_count: Counter;
  comment_count: Counter;
  repost_count: Counter;
  created_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface RepostsTable {
  user_id: string;
  post_id: string;
  created_at: Timestamp;
}

export interface FollowsTable {
  follower_id: string;
  followee_id: string;
  created_at: Timestamp;
}

export interface BlocksTable {
  blocker_id: string;
  blocked_id: string;
}

export interface MutesTable {
  muter_id: string;
  muted_id: string;
  expires_at: NullableTimestamp;
}

export interface ReadersTable {
  user_id: string;
  last_seen_at: Timestamp;
}

export interface AffinityTable {
  viewer_id: string;
  author_id: string;
  day: ColumnType<string, string, string>;
  likes: Counter;
  comments: Counter;
}

export interface PostEngagementTable {
  post_id: string;
  bucket: Timestamp;
  points: number;
}

export interface SnapshotsTable {
  id: string;
  owner_id: string;
  entries: ColumnType<unknown, string, string>;
  expires_at: Timestamp;
}

export interface FeedDb {
  authors: AuthorsTable;
  posts: PostsTable;
  reposts: RepostsTable;
  follows: FollowsTable;
  blocks: BlocksTable;
  mutes: MutesTable;
  readers: ReadersTable;
  affinity: AffinityTable;
  post_engagement: PostEngagementTable;
  snapshots: SnapshotsTable;
}
