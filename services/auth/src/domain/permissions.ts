import { AppError, isUuid, roleAtLeast, type Role } from '@nova/platform';
import type { AppContext } from '../context.js';
import { findById } from '../db/queries/users.js';

/**
 * Every permission another service may ask about, with the least role that holds it. Kept small and
 * explicit: a new permission is a line here (and in the services that check it), never a wildcard.
 */
export const PERMISSIONS = {
  /** Post, comment, like, follow, message: any live account. */
  'content.create': 'user',
  /** Hide or remove other people's posts, comments and stories; act on reports. */
  'content.moderate': 'moderator',
  /** End other people's live streams, moderate their live chat. */
  'streams.moderate': 'moderator',
  /** Read user reports and the accounts they concern. */
  'users.review_reports': 'moderator',
  /** Grant and revoke roles. */
  'users.manage_roles': 'admin',
  /** The events service's archive, dead letters and replay. */
  'events.admin': 'admin',
  /** Invalidate CDN caches. */
  'cdn.invalidate': 'admin',
} as const satisfies Record<string, Role>;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(name: string): name is Permission {
  return Object.hasOwn(PERMISSIONS, name);
}

/** Whether `role` holds `permission` (admin ⊇ moderator ⊇ user). */
export function roleHasPermission(role: Role, permission: Permission): boolean {
  return roleAtLeast(role, PERMISSIONS[permission]);
}

/** The permissions a role holds, in table order. */
export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => roleHasPermission(role, p));
}

/**
 * Whether the account `userId` may do `permission`, by its current role in the database (not a token's,
 * which may be up to one access-token lifetime old).
 */
export async function checkPermission(ctx: Pick<AppContext, 'db'>, userId: string, permission: string): Promise<{ allowed: boolean; role: Role }> {
  if (!isUuid(userId)) throw new AppError('VALIDATION_FAILED', 'user_id must be a UUID', { details: { field: 'user_id' } });
  if (!isPermission(permission)) {
    throw new AppError('VALIDATION_FAILED', `unknown permission "${permission}"`, { details: { field: 'permission', known: Object.keys(PERMISSIONS) } });
  }
  const user = await findById(ctx.db, userId);
  if (!user) throw new AppError('NOT_FOUND', 'account not found');
  return { allowed: roleHasPermission(user.role, permission), role: user.role };
}
