import { Type, bearer, ErrorBody } from '@nova/platform';
import { USERNAME_PATTERN } from '../../domain/accounts.js';
import { MAX_PASSWORD_LENGTH } from '../../crypto/passwords.js';

/** Shared by every service's routes (the platform's). */
export { ErrorBody, bearer };

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('moderator'), Type.Literal('admin')]),
  two_factor_enabled: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

export const TokenPairSchema = Type.Object({
  token_type: Type.Literal('Bearer'),
  access_token: Type.String(),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
  refresh_expires_in: Type.Integer(),
  session_id: Type.String({ format: 'uuid' }),
});

export const AuthResult = Type.Object({ user: UserSchema, tokens: TokenPairSchema });

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Username = Type.String({ pattern: USERNAME_PATTERN });
/** Length and content rules are checked by the password policy, with a clearer message. */
export const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });

