import { Type } from '@nova/platform';
import { TokenPairSchema, UserSchema } from '../schemas.js';

export const ProviderParams = Type.Object({ provider: Type.String({ minLength: 1, maxLength: 32, description: 'google, apple, facebook or wechat' }) });

export const IdentitySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  provider: Type.Union([Type.Literal('google'), Type.Literal('apple'), Type.Literal('facebook'), Type.Literal('wechat')]),
  email: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  linked_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
});

export const OAuthResultSchema = Type.Object({
  outcome: Type.Union([Type.Literal('signed_in'), Type.Literal('linked_and_signed_in'), Type.Literal('registered'), Type.Literal('linked')], {
    description: 'signed_in: the identity was linked already; linked_and_signed_in: linked by a verified email; registered: a new account; linked: a link flow (no tokens)',
  }),
  user: UserSchema,
  identity: IdentitySchema,
  tokens: Type.Optional(TokenPairSchema),
});

/** The parameters a provider sends back (query for redirects, form body for Apple's form_post). */
export const CallbackParams = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 4096 })),
    state: Type.Optional(Type.String({ maxLength: 256 })),
    iss: Type.Optional(Type.String({ maxLength: 2048 })),
    error: Type.Optional(Type.String({ maxLength: 256 })),
    error_description: Type.Optional(Type.String({ maxLength: 2048 })),
    user: Type.Optional(Type.String({ maxLength: 4096, description: 'Apple: the name, on the first authorization only' })),
  },
  { additionalProperties: Type.String({ maxLength: 2048 }) },
);
