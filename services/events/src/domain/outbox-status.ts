import { openOutboxStatusBucket, readOutboxStatuses, type OutboxStatus } from '@nova/platform';
import type { AppContext } from '../context.js';

/** Outbox lag as every service's relay last reported it (each relay writes its entry every few seconds). */
export async function outboxStatus(ctx: AppContext): Promise<OutboxStatus[]> {
  const statuses = await readOutboxStatuses(await openOutboxStatusBucket(ctx.nats.js, ctx.prefix));
  return statuses.sort((a, b) => a.service.localeCompare(b.service));
}
