import argon2 from 'argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '@nova/platform';

/** argon2id with the OWASP minimum: 19 MiB, 2 passes, 1 lane. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

// ~49k passwords seen most often in breaches, shipped by zxcvbn-ts.
const COMMON = new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

// Verified against when the account does not exist, so an unknown identifier costs as much as a wrong password.
let dummyHash: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('nova-timing-equaliser');
  await verifyPassword(await dummyHash, password);
}

/** The password policy: length, not a common password, not containing the username or email. */
export function checkPasswordPolicy(password: string, ctx: { username?: string | null; email?: string | null }): void {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) problems.push(`at most ${MAX_PASSWORD_LENGTH} characters`);
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) problems.push('not a commonly used password');
  const username = ctx.username?.toLowerCase();
  if (username && username.length >= 3 && lower.includes(username)) problems.push('not containing your username');
  const local = ctx.email?.toLowerCase().split('@')[0];
  if (ctx.email && (lower.includes(ctx.email.toLowerCase()) || (local && local.length >= 3 && lower.includes(local)))) problems.push('not containing your email');
  if (problems.length > 0) {
    throw new AppError('VALIDATION_FAILED', `password must be ${problems.join(', ')}`, { details: { field: 'password', rules: problems } });
  }
}
