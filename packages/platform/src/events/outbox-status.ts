import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { outboxStatusBucket } from './naming.js';

/** What each service's relay reports under its own key of the `<prefix>_outbox_status` bucket. */
export interface OutboxStatus {
  service: string;
  pending: number;
  oldest_pending_age_seconds: number;
  /** Rows published by every replica of the service since the key was created. */
  published_total: number;
  /** Error of the oldest row still waiting for a retry, or null. */
  last_error: string | null;
  updated_at: string;
}

export function openOutboxStatusBucket(js: JetStreamClient, prefix: string): Promise<KV> {
  return new Kvm(js).open(outboxStatusBucket(prefix));
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10071 || err.code === 10164);
}

function parse(raw: string): Partial<OutboxStatus> {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null ? (v as Partial<OutboxStatus>) : {};
  } catch {
    return {};
  }
}

/**
 * Writes a service's status. `published_total` is accumulated with compare-and-set, so replicas add
 * their own counts instead of overwriting each other's.
 */
export async function reportOutboxStatus(kv: KV, status: Omit<OutboxStatus, 'published_total'>, publishedDelta: number): Promise<OutboxStatus> {
  for (let attempt = 0; ; attempt++) {
    const entry = await kv.get(status.service);
    const previous = entry?.operation === 'PUT' ? parse(entry.string()) : {};
    const total = (typeof previous.published_total === 'number' ? previous.published_total : 0) + publishedDelta;
    const next: OutboxStatus = { ...status, published_total: total };
    try {
      if (entry) await kv.update(status.service, JSON.stringify(next), entry.revision);
      else await kv.create(status.service, JSON.stringify(next));
      return next;
    } catch (err) {
      if (!isWrongLastSequence(err) || attempt >= 4) throw err;
    }
  }
}

/** Every service's last report (for the events service's lag view). */
export async function readOutboxStatuses(kv: KV): Promise<OutboxStatus[]> {
  const out: OutboxStatus[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation !== 'PUT') continue;
    const s = parse(entry.string());
    if (typeof s.service === 'string') out.push(s as OutboxStatus);
  }
  return out.sort((a, b) => a.service.localeCompare(b.service));
}
