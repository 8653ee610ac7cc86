/**
 * Every NATS name the event backbone uses, derived from one prefix (NATS_SUBJECT_PREFIX, `nova` by default),
 * so several installations (or test files) can share a NATS server without seeing each other.
 */

const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function assertPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid NATS subject prefix "${prefix}": letters, digits, "_" and "-", starting with a letter`);
}

/** A single subject token (service, aggregate, action, consumer name): no dots, wildcards or spaces. */
export function assertToken(what: string, token: string): void {
  if (!TOKEN_RE.test(token)) throw new Error(`invalid ${what} "${token}": letters, digits, "_" and "-" only`);
}

/** `<prefix>.<service>.<aggregate>.<action>`, e.g. `nova.auth.user.registered`. */
export function eventSubject(prefix: string, service: string, aggregate: string, action: string): string {
  assertPrefix(prefix);
  assertToken('service', service);
  assertToken('aggregate', aggregate);
  assertToken('action', action);
  return `${prefix}.${service}.${aggregate}.${action}`;
}

/** A consumer filter: omitted parts match anything (`nova.auth.user.*`, `nova.auth.>`, `nova.>`). */
export function eventFilter(prefix: string, service?: string, aggregate?: string, action?: string): string {
  assertPrefix(prefix);
  if (!service) return `${prefix}.>`;
  assertToken('service', service);
  if (!aggregate) return `${prefix}.${service}.>`;
  assertToken('aggregate', aggregate);
  if (!action) return `${prefix}.${service}.${aggregate}.*`;
  assertToken('action', action);
  return `${prefix}.${service}.${aggregate}.${action}`;
}

export interface StreamNames {
  events: string;
  dlq: string;
  replay: string;
}

export function streamNames(prefix: string): StreamNames {
  assertPrefix(prefix);
  const p = prefix.toUpperCase();
  return { events: `${p}_EVENTS`, dlq: `${p}_DLQ`, replay: `${p}_REPLAY` };
}

export function streamSubjects(prefix: string): StreamNames {
  assertPrefix(prefix);
  return { events: `${prefix}.>`, dlq: `${prefix}_dlq.>`, replay: `${prefix}_replay.>` };
}

/** Durable consumer name (and handled_events key): `<service>-<purpose>`. */
export function consumerName(service: string, purpose: string): string {
  assertToken('service', service);
  assertToken('purpose', purpose);
  return `${service}-${purpose}`;
}

/** Where a consumer's dead letters go: `<prefix>_dlq.<consumer>`. */
export function dlqSubject(prefix: string, consumer: string): string {
  assertPrefix(prefix);
  assertToken('consumer', consumer);
  return `${prefix}_dlq.${consumer}`;
}

/** What a consumer's replay durable listens to: `<prefix>_replay.<consumer>.>`. */
export function replayFilter(prefix: string, consumer: string): string {
  assertPrefix(prefix);
  assertToken('consumer', consumer);
  return `${prefix}_replay.${consumer}.>`;
}

/**
 * The subject that re-delivers an event to one consumer: `<prefix>_replay.<consumer>.<service>.<aggregate>.<action>`
 * (the event subject without its prefix, so the original route stays visible).
 */
export function replaySubject(prefix: string, consumer: string, originalSubject: string): string {
  const filter = replayFilter(prefix, consumer);
  const rest = originalSubject.startsWith(`${prefix}.`) ? originalSubject.slice(prefix.length + 1) : originalSubject;
  if (rest.length === 0 || /[\s*>]/.test(rest)) throw new Error(`invalid event subject "${originalSubject}"`);
  return `${filter.slice(0, -1)}${rest}`;
}

/** KV bucket where every service's relay reports its outbox lag (key = service name). */
export function outboxStatusBucket(prefix: string): string {
  assertPrefix(prefix);
  return `${prefix}_outbox_status`;
}
