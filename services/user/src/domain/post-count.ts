import { AppError, type EventEnvelope, type Tx } from '@nova/platform';
import * as pq from '../db/queries/profiles.js';
import type { UsersDb } from '../db/schema.js';

/**
 * content's post events keep a profile's `post_count`: PostCreated adds one, PostDeleted removes one (other
 * post events are ignored). One consumer reads `content.post.*`, so a post's creation is applied before its
 * deletion. An author whose profile does not exist yet (auth's UserRegistered not handled) is retried
 * later rather than losing the count; a deleted author is skipped.
 */
export async function onPostEvent(tx: Tx<UsersDb>, event: EventEnvelope<{ author_id?: string }>): Promise<void> {
  const delta = event.type === 'PostCreated' ? 1 : event.type === 'PostDeleted' ? -1 : 0;
  const author = event.data.author_id;
  if (delta === 0 || !author) return;
  const profile = await pq.findProfileAnyState(tx, author);
  if (!profile) throw new AppError('PRECONDITION_FAILED', `no profile for author ${author} yet`);
  if (profile.deleted_at) return;
  await pq.lockProfiles(tx, [author]);
  await pq.bumpCounter(tx, [author], 'post_count', delta);
}
