import { AppError } from '@nova/platform';
import { providerUnavailable } from './errors.js';
import type { OAuthProviderName } from './types.js';

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * GET/POST to a provider's hand-written endpoint and parse its JSON answer, whatever content type it
 * claims (WeChat answers JSON as text/plain). Network failures, timeouts and non-JSON bodies become
 * DEPENDENCY_UNAVAILABLE; the HTTP status is left to the caller, since providers put errors in 200s too.
 */
export async function fetchJson(provider: OAuthProviderName, url: URL, timeoutMs: number, init: { method?: 'GET' | 'POST'; body?: URLSearchParams } = {}): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { accept: 'application/json', ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: init.body?.toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw providerUnavailable(provider, err);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw providerUnavailable(provider, err);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw providerUnavailable(provider, new Error(`${url.origin}${url.pathname} answered ${res.status} with a body that is not JSON`));
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw providerUnavailable(provider, new Error(`${url.origin}${url.pathname} answered ${res.status} with JSON that is not an object`));
  }
  return { status: res.status, body: body as Record<string, unknown> };
}

export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Guards the `code` parameter of a callback before it is sent anywhere. */
export function requireCode(provider: OAuthProviderName, params: URLSearchParams): string {
  const code = params.get('code');
  if (!code) throw new AppError('BAD_REQUEST', `the callback from ${provider} carries no authorization code`, { details: { provider, field: 'code' } });
  if (code.length > 2048) throw new AppError('BAD_REQUEST', 'the authorization code is too long', { details: { provider, field: 'code' } });
  return code;
}
