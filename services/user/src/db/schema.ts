import type { ColumnType } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Counter = ColumnType<number, number | undefined, number>;

export interface ProfilesTable {
  id: string;
  username: string;
  username_lower: string;
  display_name: string | null;
  bio: string | null;
  avatar_media_id: string | null;
  cover_media_id: string | null;
  location: string | null;
  website: string | null;
  is_private: ColumnType<boolean, boolean | undefined, boolean>;
  follower_count: Counter;
  following_count: Counter;
  post_count: Counter;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface FollowsTable {
  follower_id: string;
  followee_id: string;
  created_at: Timestamp;
}

export interface FollowRequestsTable {
  requester_id: string;
  target_id: string;
  created_at: Timestamp;
}

export interface BlocksTable {
  blocker_id: string;
  blocked_id: string;
  created_at: Timestamp;
}

export interface MutesTable {
  muter_id: string;
  muted_id: string;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
}

export type WhoCanMessage = 'everyone' | 'followers' | 'nobody';

export interface SettingsTable {
  user_id: string;
  language: ColumnType<string, string | undefined, string>;
  who_can_message: ColumnType<WhoCanMessage, WhoCanMessage | undefined, WhoCanMessage>;
  notifications: ColumnType<Record<string, boolean>, string | undefined, string>;
  privacy: ColumnType<Record<string, boolean>, string | undefined, string>;
  updated_at: Timestamp;
}

export interface UsersDb {
  profiles: ProfilesTable;
  follows: FollowsTable;
  follow_requests: FollowRequestsTable;
  blocks: BlocksTable;
  mutes: MutesTable;
  settings: SettingsTable;
}
