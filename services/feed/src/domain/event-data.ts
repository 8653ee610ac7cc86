import { isUuid, UnprocessableEventError, type EventEnvelope } from '@nova/platform';
import type { PostVisibility } from '../db/schema.js';

/**
 * Reading other services' event payloads: a field that is missing or of the wrong shape can never be
 * handled, so it dead-letters the event (UnprocessableEventError) instead of being retried.
 */
export function uuidField(event: EventEnvelope, field: string): string {
  const value = (event.data as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || !isUuid(value)) throw new UnprocessableEventError(`${event.type} ${event.id}: ${field} must be a UUID`);
  return value.toLowerCase();
}

export function optionalUuidField(event: EventEnvelope, field: string): string | null {
  const value = (event.data as Record<string, unknown> | null)?.[field];
  return value === null || value === undefined ? null : uuidField(event, field);
}

const VISIBILITIES: readonly string[] = ['public', 'followers', 'private'];

export function visibilityField(event: EventEnvelope, field = 'visibility'): PostVisibility {
  const value = (event.data as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || !VISIBILITIES.includes(value)) throw new UnprocessableEventError(`${event.type} ${event.id}: ${field} must be public, followers or private`);
  return value as PostVisibility;
}

export function tagsField(event: EventEnvelope): string[] {
  const value = (event.data as Record<string, unknown> | null)?.hashtags;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) throw new UnprocessableEventError(`${event.type} ${event.id}: hashtags must be strings`);
  return (value as string[]).map((t) => t.toLowerCase());
}

/** A timestamp field, or when the event occurred. */
export function timeField(event: EventEnvelope, field?: string): Date {
  const raw = field === undefined ? event.occurred_at : (event.data as Record<string, unknown> | null)?.[field];
  const at = typeof raw === 'string' ? new Date(raw) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new UnprocessableEventError(`${event.type} ${event.id}: ${field ?? 'occurred_at'} must be a timestamp`);
  return at;
}

export function optionalTimeField(event: EventEnvelope, field: string): Date | null {
  const raw = (event.data as Record<string, unknown> | null)?.[field];
  return raw === null || raw === undefined ? null : timeField(event, field);
}
