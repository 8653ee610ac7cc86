import { Type, bearer, ErrorBody, Uuid } from '@nova/platform';

/** Shared by every service's routes (the platform's). */
export { ErrorBody, bearer, Uuid };

/** Schemas shared by the user service's routes. */

export const NullableUuid = Type.Union([Uuid, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** `:id` of a user in a path. */
export const UserIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Usernames as auth issues them: 3-32 letters, digits and underscores. */
export const USERNAME_PATTERN = '^[A-Za-z0-9_]{3,32}$';

/**
 * A profile as anyone allowed to see it sees it. It never carries an email: only `GET /users/me` does
 * ({@link MeSchema}), and the response serialiser drops any field not declared here.
 */
export const ProfileSchema = Type.Object({
  id: Uuid,
  username: Type.String(),
  display_name: NullableString,
  bio: NullableString,
  avatar_media_id: NullableUuid,
  cover_media_id: NullableUuid,
  location: NullableString,
  website: NullableString,
  is_private: Type.Boolean(),
  follower_count: Type.Integer({ minimum: 0 }),
  following_count: Type.Integer({ minimum: 0 }),
  post_count: Type.Integer({ minimum: 0 }),
  created_at: Type.String({ format: 'date-time' }),
});

/** The caller's own profile, with the account's email. */
export const MeSchema = Type.Object({
  ...ProfileSchema.properties,
  email: Type.Optional(
    Type.Union([Type.String(), Type.Null()], {
      description: "the account's email (null: the account has none, e.g. some OAuth sign-ups); absent when the auth service could not be asked",
    }),
  ),
});

/** A page of a keyset-paginated list: `next_cursor` is null on the last page. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

/** One line of text: no control characters (newlines included). */
export const SINGLE_LINE = '^[^\\p{Cc}]*$';
/** Text that may span lines: no control characters other than line breaks. */
export const MULTI_LINE = '^(?:[^\\p{Cc}]|\\r?\\n)*$';
/** An absolute http(s) URL with a host. */
export const HTTP_URL = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#@]+(?:[/?#]\\S*)?$';

/**
 * `null` or a string. Null comes first: the validator coerces types, and tried first it turns `""` into
 * null (clearing the field) instead of letting a string branch turn null into `""`.
 */
export const NullableText = (opts: { maxLength: number; pattern: string; description?: string }) => Type.Union([Type.Null(), Type.String(opts)]);
