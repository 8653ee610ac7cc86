import { randomInt } from 'node:crypto';

const MAX = 32;
const MIN = 3;

/**
 * A username (`[A-Za-z0-9_]{3,32}`) suggested by what the provider told us: the display name folded to
 * ASCII ("José Müller" → "Jose_Muller"), else the email's local part, else `<provider>_user` (WeChat
 * nicknames are often entirely non-Latin).
 */
export function usernameBase(name: string | null, email: string | null, provider: string): string {
  for (const candidate of [name, email?.split('@')[0] ?? null]) {
    if (!candidate) continue;
    const folded = candidate
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .replace(/[^A-Za-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, MAX - 5);
    if (folded.length >= MIN) return folded;
  }
  return `${provider}_user`;
}

/** The n-th candidate for a base: the base itself, then the base with a random number of growing length. */
export function usernameCandidate(base: string, attempt: number): string {
  if (attempt === 0) return base;
  const digits = Math.min(4 + Math.floor((attempt - 1) / 3) * 2, 9);
  const suffix = String(randomInt(10 ** (digits - 1), 10 ** digits));
  return `${base.slice(0, MAX - suffix.length - 1)}_${suffix}`;
}
