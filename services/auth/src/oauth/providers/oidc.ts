import * as client from 'openid-client';
import type { Logger } from '@nova/platform';
import { providerRefused, providerUnavailable, verificationFailed } from '../errors.js';
import type { AuthorizationRequest, FlowChecks, OAuthProviderClient, ProviderProfile } from '../types.js';

/** Discovery metadata is re-read this often; a failed re-read keeps the last good one. */
const DISCOVERY_TTL_MS = 24 * 3_600_000;
const DISCOVERY_RETRY_MS = 60_000;

/** Parameters an authorization response may carry; anything else (Apple's `user`) is not passed on. */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'];

/**
 * Error codes (oauth4webapi's, which openid-client passes through without exporting the constants) that
 * mean "the answer is not trustworthy" — bad signature, issuer, audience, nonce, expiry — as opposed to
 * "could not get an answer".
 */
const VERIFICATION_CODES = new Set<string>([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_PARSE_ERROR',
]);

export interface OidcProviderOptions {
  name: 'google' | 'apple';
  issuer: string;
  clientId: string;
  clientAuth: client.ClientAuth;
  scope: string;
  formPost: boolean;
  timeoutMs: number;
  /** Plain-http issuers: only for local fakes in development and test (checked at start-up). */
  allowHttp: boolean;
  logger: Logger;
  /** A display name the provider sends outside the ID token (Apple's `user` form field, first login only). */
  nameFromCallback?: (params: URLSearchParams) => string | null;
}

/**
 * An OpenID Connect provider through `openid-client`: metadata and keys from the issuer's discovery
 * document, authorization code flow with state, nonce and PKCE (when the provider advertises S256), and
 * the ID token checked for issuer, audience, expiry and nonce and its signature verified against the
 * provider's JWKS (non-repudiation checks on, although the token arrives over TLS).
 */
export class OidcProvider implements OAuthProviderClient {
  readonly name: 'google' | 'apple';
  readonly formPost: boolean;
  private current: { config: client.Configuration; refreshAt: number } | undefined;
  private pending: Promise<client.Configuration> | undefined;

  constructor(private readonly opts: OidcProviderOptions) {
    this.name = opts.name;
    this.formPost = opts.formPost;
  }

  async authorize(state: string, redirectUri: string): Promise<AuthorizationRequest> {
    const config = await this.configuration();
    const nonce = client.randomNonce();
    const checks: FlowChecks = { nonce };
    const params: Record<string, string> = { redirect_uri: redirectUri, response_type: 'code', scope: this.opts.scope, state, nonce };
    if (this.opts.formPost) params.response_mode = 'form_post';
    if (config.serverMetadata().supportsPKCE('S256')) {
      checks.codeVerifier = client.randomPKCECodeVerifier();
      params.code_challenge = await client.calculatePKCECodeChallenge(checks.codeVerifier);
      params.code_challenge_method = 'S256';
    }
    return { url: client.buildAuthorizationUrl(config, params), checks };
  }

  async complete(params: URLSearchParams, state: string, checks: FlowChecks, redirectUri: string): Promise<ProviderProfile> {
    const config = await this.configuration();
    const current = new URL(redirectUri);
    for (const key of RESPONSE_PARAMS) {
      const value = params.get(key);
      if (value !== null) current.searchParams.set(key, value);
    }
    let claims: client.IDToken | undefined;
    let tokens: client.TokenEndpointResponse;
    try {
      const result = await client.authorizationCodeGrant(config, current, {
        expectedState: state,
        ...(checks.nonce === undefined ? {} : { expectedNonce: checks.nonce }),
        ...(checks.codeVerifier === undefined ? {} : { pkceCodeVerifier: checks.codeVerifier }),
        idTokenExpected: true,
      });
      tokens = result;
      claims = result.claims();
    } catch (err) {
      throw this.translate(err);
    }
    if (!claims || typeof claims.sub !== 'string' || claims.sub.length === 0) throw verificationFailed(this.name, new Error('the ID token has no subject'));
    const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email : null;
    // Apple sends email_verified as the string "true"; Google as a boolean.
    const emailVerified = email !== null && (claims.email_verified === true || claims.email_verified === 'true');
    const name = typeof claims.name === 'string' ? claims.name : (this.opts.nameFromCallback?.(params) ?? null);
    return {
      provider: this.name,
      subject: claims.sub,
      formerSubjects: [],
      email,
      emailVerified,
      name,
      accessToken: typeof tokens.access_token === 'string' ? tokens.access_token : null,
      refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null,
    };
  }

  private translate(err: unknown): Error {
    if (err instanceof client.AuthorizationResponseError) {
      return providerRefused(this.name, `${this.name} did not authorize the sign-in (${err.error})`, err.error, err);
    }
    if (err instanceof client.ResponseBodyError) {
      if (err.status < 500 && err.error === 'invalid_grant') {
        return providerRefused(this.name, `the ${this.name} authorization code is invalid, expired or already used`, err.error, err);
      }
      // invalid_client and friends are our misconfiguration; 5xx is theirs: either way, not the user's fault.
      this.opts.logger.error({ provider: this.name, status: err.status, error: err.error, description: err.error_description }, 'OAuth token endpoint refused the exchange');
      return providerUnavailable(this.name, err);
    }
    const code = (err as { code?: unknown }).code;
    if (err instanceof Error && typeof code === 'string' && VERIFICATION_CODES.has(code)) {
      this.opts.logger.warn({ provider: this.name, reason: err.message, code }, 'OAuth response failed verification');
      return verificationFailed(this.name, err);
    }
    return providerUnavailable(this.name, err);
  }

  /** The discovered configuration, fetched on first use and refreshed daily. */
  private async configuration(): Promise<client.Configuration> {
    const now = Date.now();
    if (this.current && now < this.current.refreshAt) return this.current.config;
    this.pending ??= this.discover().finally(() => {
      this.pending = undefined;
    });
    try {
      const config = await this.pending;
      this.current = { config, refreshAt: Date.now() + DISCOVERY_TTL_MS };
      return config;
    } catch (err) {
      if (this.current) {
        this.opts.logger.warn({ provider: this.name, err: (err as Error).message }, 'OpenID discovery failed; keeping the previous metadata');
        this.current.refreshAt = Date.now() + DISCOVERY_RETRY_MS;
        return this.current.config;
      }
      throw providerUnavailable(this.name, err);
    }
  }

  private discover(): Promise<client.Configuration> {
    const execute = [client.enableNonRepudiationChecks];
    if (this.opts.allowHttp && this.opts.issuer.startsWith('http:')) execute.push(client.allowInsecureRequests);
    return client.discovery(new URL(this.opts.issuer), this.opts.clientId, undefined, this.opts.clientAuth, { timeout: this.opts.timeoutMs / 1000, execute });
  }
}
