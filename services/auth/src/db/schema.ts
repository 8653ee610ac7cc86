import type { ColumnType, Role } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string | null>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: string;
  email: string | null;
  email_normalized: string | null;
  email_verified_at: NullableTimestamp;
  username: string;
  username_lower: string;
  password_hash: string | null;
  role: ColumnType<Role, Role | undefined, Role>;
  totp_secret_enc: string | null;
  totp_enabled_at: NullableTimestamp;
  totp_last_step: ColumnType<string | null, number | null | undefined, number | null>;
  failed_login_count: ColumnType<number, number | undefined, number>;
  locked_until: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
  released_at: NullableTimestamp;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  device: string | null;
  user_agent: string | null;
  ip: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  id: string;
  session_id: string;
  parent_id: string | null;
  issued_at: Timestamp;
  expires_at: Timestamp;
  rotated_at: NullableTimestamp;
}

export interface SigningKeysTable {
  kid: string;
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_key_enc: string;
  created_at: Timestamp;
  activates_at: Timestamp;
  retired_at: NullableTimestamp;
}

export interface ActionTokensTable {
  id: string;
  user_id: string;
  purpose: 'password_reset' | 'email_verify';
  token_hash: string;
  email: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface BackupCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: NullableTimestamp;
}

export type OAuthProvider = 'google' | 'facebook' | 'apple' | 'wechat';

export interface OAuthIdentitiesTable {
  id: string;
  provider: OAuthProvider;
  provider_subject: string;
  user_id: string;
  email: string | null;
  email_verified: ColumnType<boolean, boolean | undefined, boolean>;
  access_token_enc: string | null;
  refresh_token_enc: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface AuthDb {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  action_tokens: ActionTokensTable;
  backup_codes: BackupCodesTable;
  oauth_identities: OAuthIdentitiesTable;
}
