import { isUuid } from '../ids/index.js';

/** What every event carries on the wire (design brief §4). */
export interface EventEnvelope<T = unknown> {
  /** UUIDv7, also the JetStream message id (de-duplication) and the handled_events key. */
  id: string;
  /** PascalCase name, e.g. `UserRegistered`. */
  type: string;
  /** Schema version of `data` for this type, starting at 1. */
  version: number;
  /** Service that emitted it. */
  source: string;
  /** The entity it is about, e.g. `user/<id>`. */
  subject: string;
  /** ISO 8601 timestamp. */
  occurred_at: string;
  correlation_id: string | null;
  data: T;
}

export type EnvelopeCheck<T = unknown> = { ok: true; envelope: EventEnvelope<T> } | { ok: false; error: string };

const TYPE_RE = /^[A-Z][A-Za-z0-9]*$/;
const SOURCE_RE = /^[a-z][a-z0-9_-]*$/;
// ISO 8601 with date and time and an explicit zone (what Date#toISOString and PostgreSQL produce).
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const MAX_TEXT = 200;

function text(v: unknown, max = MAX_TEXT): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

/**
 * Checks a decoded envelope. Only the known fields are kept; anything malformed is rejected with the
 * first problem found (a consumer dead-letters such a message at once).
 */
export function validateEnvelope<T = unknown>(value: unknown): EnvelopeCheck<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'envelope is not a JSON object' };
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string' || !isUuid(e.id)) return { ok: false, error: 'id must be a UUID' };
  if (!text(e.type) || !TYPE_RE.test(e.type)) return { ok: false, error: 'type must be a PascalCase name' };
  if (typeof e.version !== 'number' || !Number.isSafeInteger(e.version) || e.version < 1) return { ok: false, error: 'version must be an integer >= 1' };
  if (!text(e.source) || !SOURCE_RE.test(e.source)) return { ok: false, error: 'source must be a service name' };
  if (!text(e.subject, 500)) return { ok: false, error: 'subject must be a non-empty string' };
  if (typeof e.occurred_at !== 'string' || !ISO_RE.test(e.occurred_at) || Number.isNaN(Date.parse(e.occurred_at))) {
    return { ok: false, error: 'occurred_at must be an ISO 8601 timestamp' };
  }
  if (e.correlation_id !== null && !text(e.correlation_id)) return { ok: false, error: 'correlation_id must be a string or null' };
  if (!('data' in e) || e.data === undefined) return { ok: false, error: 'data is missing' };
  return {
    ok: true,
    envelope: {
      id: e.id.toLowerCase(),
      type: e.type,
      version: e.version,
      source: e.source,
      subject: e.subject,
      occurred_at: e.occurred_at,
      correlation_id: e.correlation_id,
      data: e.data as T,
    },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes and validates a message payload. */
export function parseEnvelope<T = unknown>(payload: Uint8Array | string): EnvelopeCheck<T> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(typeof payload === 'string' ? payload : utf8.decode(payload));
  } catch {
    return { ok: false, error: 'payload is not valid UTF-8 JSON' };
  }
  return validateEnvelope<T>(decoded);
}
