import { AppError } from '@nova/platform';
import type { OAuthProviderName } from './types.js';

/**
 * How provider failures reach the client (stable codes, documented in the README):
 * - the user or the provider refused (cancelled consent, a code that is invalid, expired or already used):
 *   400 BAD_REQUEST with `details.provider` and `details.provider_error`;
 * - the provider's answer failed verification (ID token signature, issuer, audience, nonce, expiry):
 *   401 UNAUTHENTICATED;
 * - the provider could not be reached, timed out, answered garbage, or refused our own credentials:
 *   503 DEPENDENCY_UNAVAILABLE (the cause is logged, not returned).
 */
export function providerRefused(provider: OAuthProviderName, message: string, providerError: string | number | undefined, cause?: unknown): AppError {
  return new AppError('BAD_REQUEST', message, { cause, details: { provider, ...(providerError === undefined ? {} : { provider_error: providerError }) } });
}

export function verificationFailed(provider: OAuthProviderName, cause: unknown): AppError {
  return new AppError('UNAUTHENTICATED', `the sign-in response from ${provider} could not be verified`, { cause, details: { provider } });
}

export function providerUnavailable(provider: OAuthProviderName, cause: unknown): AppError {
  return new AppError('DEPENDENCY_UNAVAILABLE', `${provider} is unavailable`, { cause, details: { dependency: `oauth:${provider}` } });
}
