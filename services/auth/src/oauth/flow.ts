import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { ClientMeta } from '../domain/sessions.js';
import type { OAuthProviders } from './registry.js';
import { signInWithProfile, type OAuthSignInResult } from './sign-in.js';
import { newState, saveFlow, takeFlow } from './state.js';
import type { OAuthProviderName } from './types.js';

/** `${AUTH_PUBLIC_URL}/api/v1/auth/oauth/<provider>/callback`: what is registered with each provider. */
export function callbackUrl(ctx: Pick<AppContext, 'config'>, provider: OAuthProviderName): string {
  return `${ctx.config.AUTH_PUBLIC_URL.replace(/\/+$/, '')}/api/v1/auth/oauth/${provider}/callback`;
}

/**
 * Starts a sign-in (or, with `link`, the linking of a provider to the logged-in user's account): a fresh
 * state, with the PKCE verifier and nonce the callback must present, stored single-use in Redis.
 */
export async function startOAuth(ctx: AppContext, providers: OAuthProviders, name: string, link?: { userId: string; sessionId: string }): Promise<{ authorizationUrl: string; expiresIn: number }> {
  const provider = providers.get(name);
  const state = newState();
  const { url, checks } = await provider.authorize(state, callbackUrl(ctx, provider.name));
  await saveFlow(ctx, state, { provider: provider.name, checks, ...(link ? { link } : {}), createdAt: Date.now() });
  return { authorizationUrl: url.toString(), expiresIn: ctx.config.OAUTH_STATE_TTL_SECONDS };
}

/** The provider's answer: the state is taken (whatever happens next, it is spent), the code exchanged, the identity resolved. */
export async function finishOAuth(ctx: AppContext, providers: OAuthProviders, name: string, params: URLSearchParams, method: 'GET' | 'POST', meta: ClientMeta): Promise<OAuthSignInResult> {
  const provider = providers.get(name);
  if (method === 'POST' && !provider.formPost) throw new AppError('METHOD_NOT_ALLOWED', `${provider.name} answers with a redirect (GET), not a form post`);
  const state = params.get('state');
  const flow = await takeFlow(ctx, state, provider.name);
  const profile = await provider.complete(params, state!, flow.checks, callbackUrl(ctx, provider.name));
  return signInWithProfile(ctx, profile, flow, meta);
}
