import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import { relationship, type Relationship } from '../db/queries/graph-reads.js';
import { findProfile } from '../db/queries/profiles.js';
import { normaliseId } from './follows.js';

export type { Relationship };

const NONE: Relationship = { following: false, followed_by: false, requested: false, requested_by: false, blocking: false, blocked_by: false, muting: false };

/**
 * The caller's relationship with a user, as the caller may see it. A user who blocks the caller is
 * answered 404, exactly like their profile, so a block is never revealed to the person blocked; every
 * 200 answer therefore has `blocked_by: false` (the gRPC GetRelationship, for services, tells the whole
 * truth). The caller's own blocks are shown (`blocking`), so they can be lifted. Oneself: all false.
 */
export async function viewRelationship(ctx: AppContext, callerId: string, targetId: string): Promise<Relationship> {
  const me = normaliseId(callerId);
  const them = normaliseId(targetId);
  if (!(await findProfile(ctx.db, them))) throw new AppError('NOT_FOUND', 'user not found');
  if (me === them) return { ...NONE };
  const r = await relationship(ctx.db, me, them);
  if (r.blocked_by) throw new AppError('NOT_FOUND', 'user not found');
  return r;
}
