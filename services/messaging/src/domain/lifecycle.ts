import type { EventEnvelope, Tx } from '@nova/platform';
import * as cq from '../db/queries/conversations.js';
import * as eq from '../db/queries/e2ee.js';
import * as mq from '../db/queries/messages.js';
import type { MessagingDb } from '../db/schema.js';

/**
 * UserDeleted (auth): the account leaves every conversation it was in (left_by = itself); a group it owned
 * passes to its longest-standing admin, else member. Messages stay for the other members, shown as from a
 * deleted account (`sender_deleted: true`, from messaging.deleted_accounts). Runs in the
 * consumer's transaction (which also records the event as handled), so a redelivery changes nothing.
 * Its E2EE devices are removed with their keys and queues: nothing more is delivered to them.
 */
export async function onUserDeleted(tx: Tx<MessagingDb>, event: EventEnvelope<{ user_id?: string }>): Promise<void> {
  const userId = event.data.user_id?.toLowerCase();
  if (!userId) return;
  await mq.markAccountDeleted(tx, userId);
  await eq.lockDeviceList(tx, userId, false);
  await eq.removeDevices(tx, (await eq.liveDevices(tx, [userId])).map((d) => d.id), userId);
  for (const m of await cq.membershipsOf(tx, userId)) {
    await cq.leave(tx, m.conversation_id, userId, userId);
    if (m.role === 'owner') {
      const heir = (await cq.activeMembers(tx, m.conversation_id)).sort((a, b) => rank(a.role) - rank(b.role))[0];
      if (heir) await cq.setRole(tx, m.conversation_id, heir.user_id, 'owner');
    }
  }
}

const rank = (role: string) => (role === 'admin' ? 0 : 1);
