import { v } from '@nova/platform';

/** The auth service's own variables (the shared ones, including AUTH_ISSUER/AUDIENCE, are in the platform spec). */
export const authConfig = {
  AUTH_ENCRYPTION_KEY: v.optionalString({ secret: true, minLength: 44, doc: 'base64 of 32 random bytes: encrypts signing keys, TOTP secrets and provider tokens at rest (required outside development/test; `openssl rand -base64 32`)' }),
  AUTH_ENCRYPTION_KEY_PREVIOUS: v.optionalString({ secret: true, minLength: 44, doc: 'the key before a rotation of AUTH_ENCRYPTION_KEY, still accepted for decryption' }),
  AUTH_ACCESS_TTL_SECONDS: v.int({ default: 900, min: 60, max: 86_400, doc: 'access token lifetime' }),
  AUTH_REFRESH_TTL_SECONDS: v.int({ default: 2_592_000, min: 3_600, doc: 'refresh token (and session) lifetime' }),
  AUTH_REFRESH_GRACE_SECONDS: v.int({ default: 10, min: 0, max: 120, doc: 'how long a just-rotated refresh token may be presented again (client retries) without counting as reuse' }),
  AUTH_LOCKOUT_THRESHOLD: v.int({ default: 5, min: 1, doc: 'failed logins that lock an account' }),
  AUTH_LOCKOUT_SECONDS: v.int({ default: 900, min: 1, doc: 'how long a locked account stays locked' }),
  AUTH_DELETED_RETENTION_DAYS: v.int({ default: 30, min: 0, doc: 'days before a deleted account\'s email and username can be registered again' }),
  AUTH_KEY_SIZE_BITS: v.int({ default: 4096, min: 2048, doc: 'RSA modulus of new signing keys' }),
  AUTH_PUBLIC_URL: v.url(['http', 'https'], { default: 'http://localhost:8080', doc: 'public base URL, for links in mails and OAuth callbacks' }),
  SMTP_URL: v.optionalString({ secret: true, doc: 'smtp:// or smtps:// URL of the mail relay; unset in development writes mail to the log and MAIL_DIR' }),
  MAIL_FROM: v.string({ default: 'Nova <no-reply@localhost>', doc: 'sender of verification and reset mail' }),
  MAIL_DIR: v.string({ default: '.nova/mail', doc: 'where mail goes when SMTP_URL is unset (development)' }),
};
