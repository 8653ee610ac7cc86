import { sql, type Kysely } from 'kysely';
import { newId } from '../ids/index.js';
import type { EventEnvelope } from './envelope.js';
import { assertPrefix, assertToken, eventSubject } from './naming.js';

export interface OutboxOptions {
  service: string;
  /** The service's schema, holding its `outbox` table. */
  schema: string;
  /** NATS_SUBJECT_PREFIX. */
  prefix: string;
  /** Largest serialised envelope accepted (default 512 KiB; NATS refuses messages above max_payload, 1 MiB by default). */
  maxEnvelopeBytes?: number;
}

export interface OutboxEvent<T> {
  /** Second subject token after the service, e.g. `user`; also the entity kind in the envelope subject. */
  aggregate: string;
  /** Last subject token, e.g. `registered`. */
  action: string;
  /** PascalCase event type, e.g. `UserRegistered`. */
  type: string;
  /** Id of the entity; the envelope subject becomes `<aggregate>/<entityId>`. */
  entityId: string;
  data: T;
  version?: number;
  correlationId?: string | null;
}

/**
 * Writes events into the service's outbox inside the caller's transaction, so an event exists exactly
 * when the state change it describes was committed. The relay publishes it afterwards.
 */
export class Outbox {
  readonly service: string;
  readonly schema: string;
  readonly prefix: string;
  private readonly maxBytes: number;

  constructor(opts: OutboxOptions) {
    assertPrefix(opts.prefix);
    assertToken('service', opts.service);
    this.service = opts.service;
    this.schema = opts.schema;
    this.prefix = opts.prefix;
    this.maxBytes = opts.maxEnvelopeBytes ?? 512 * 1024;
  }

  /** Inserts one event; `tx` should be the transaction that makes the change the event reports. */
  async add<T>(tx: Kysely<any>, event: OutboxEvent<T>): Promise<EventEnvelope<T>> {
    const subject = eventSubject(this.prefix, this.service, event.aggregate, event.action);
    if (!/^[A-Z][A-Za-z0-9]*$/.test(event.type)) throw new Error(`event type "${event.type}" must be PascalCase`);
    const version = event.version ?? 1;
    if (!Number.isSafeInteger(version) || version < 1) throw new Error(`event version must be an integer >= 1, got ${version}`);
    if (event.entityId.length === 0) throw new Error('event entityId must not be empty');
    if (event.data === undefined) throw new Error('event data must not be undefined');
    const envelope: EventEnvelope<T> = {
      id: newId(),
      type: event.type,
      version,
      source: this.service,
      subject: `${event.aggregate}/${event.entityId}`,
      occurred_at: new Date().toISOString(),
      correlation_id: event.correlationId ?? null,
      data: event.data,
    };
    const json = JSON.stringify(envelope);
    // Refused here, in the writer's transaction: a row NATS would never accept would block the outbox.
    const size = Buffer.byteLength(json);
    if (size > this.maxBytes) throw new Error(`event ${event.type} is ${size} bytes, above the ${this.maxBytes}-byte limit`);
    await sql`
      INSERT INTO ${sql.id(this.schema, 'outbox')} (id, subject, event_type, envelope)
      VALUES (${envelope.id}, ${subject}, ${envelope.type}, ${json}::jsonb)`.execute(tx);
    return envelope;
  }
}
