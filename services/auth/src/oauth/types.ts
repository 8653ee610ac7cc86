import type { OAuthProvider } from '../db/schema.js';

export type OAuthProviderName = OAuthProvider;

export const OAUTH_PROVIDERS: readonly OAuthProviderName[] = ['google', 'apple', 'facebook', 'wechat'];

export function isOAuthProviderName(s: string): s is OAuthProviderName {
  return (OAUTH_PROVIDERS as readonly string[]).includes(s);
}

/** Who the provider says the user is, after the code exchange. */
export interface ProviderProfile {
  provider: OAuthProviderName;
  /** The provider's stable id of the person. */
  subject: string;
  /** Ids this provider used for the same person before (WeChat: the openid, once a unionid exists). */
  formerSubjects: string[];
  email: string | null;
  /** True only when the provider vouches that the person controls `email`. */
  emailVerified: boolean;
  /** Display name, for deriving a username; never trusted for anything else. */
  name: string | null;
  accessToken: string | null;
  refreshToken: string | null;
}

/** Values the callback must check, kept server-side with the state (never sent to the browser). */
export interface FlowChecks {
  codeVerifier?: string;
  nonce?: string;
}

export interface AuthorizationRequest {
  url: URL;
  checks: FlowChecks;
}

/** One provider's side of the authorization code flow. */
export interface OAuthProviderClient {
  readonly name: OAuthProviderName;
  /** Whether the provider answers with an HTML form POST (`response_mode=form_post`) instead of a redirect. */
  readonly formPost: boolean;
  /** The URL to send the browser to, and what its callback must prove. */
  authorize(state: string, redirectUri: string): Promise<AuthorizationRequest>;
  /** Exchanges the callback's code (the state was already matched) for the person's profile. */
  complete(params: URLSearchParams, state: string, checks: FlowChecks, redirectUri: string): Promise<ProviderProfile>;
}
