import { ClientSecretPost } from 'openid-client';
import type { Logger } from '@nova/platform';
import { OidcProvider } from './oidc.js';

export interface GoogleOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  allowHttp: boolean;
  logger: Logger;
}

/** Google Sign-In: plain OpenID Connect; `email_verified` is in the ID token when the email scope is granted. */
export function googleProvider(o: GoogleOptions): OidcProvider {
  return new OidcProvider({
    name: 'google',
    issuer: o.issuer,
    clientId: o.clientId,
    clientAuth: ClientSecretPost(o.clientSecret),
    scope: 'openid email profile',
    formPost: false,
    timeoutMs: o.timeoutMs,
    allowHttp: o.allowHttp,
    logger: o.logger,
  });
}
