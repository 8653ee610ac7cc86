import { describe, expect, it } from 'vitest';
import { newId } from '../ids/index.js';
import { parseEnvelope, validateEnvelope } from './envelope.js';
import { consumerName, dlqSubject, eventFilter, eventSubject, outboxStatusBucket, replayFilter, replaySubject, streamNames, streamSubjects } from './naming.js';

const valid = () => ({
  id: newId(),
  type: 'UserRegistered',
  version: 1,
  source: 'auth',
  subject: 'user/42',
  occurred_at: new Date().toISOString(),
  correlation_id: null,
  data: { email: 'a@example.com' },
});

describe('validateEnvelope', () => {
  it('accepts a well-formed envelope and keeps only the known fields', () => {
    const e = { ...valid(), extra: 'dropped' };
    const r = validateEnvelope(e);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Object.keys(r.envelope).sort()).toEqual(['correlation_id', 'data', 'id', 'occurred_at', 'source', 'subject', 'type', 'version']);
    expect(validateEnvelope({ ...valid(), correlation_id: 'req-1', data: null }).ok).toBe(true);
  });

  it.each([
    ['a non-object', 'nope'],
    ['an array', [valid()]],
    ['a bad id', { ...valid(), id: 'not-a-uuid' }],
    ['a snake_case type', { ...valid(), type: 'user_registered' }],
    ['version 0', { ...valid(), version: 0 }],
    ['a fractional version', { ...valid(), version: 1.5 }],
    ['a missing source', { ...valid(), source: undefined }],
    ['an empty subject', { ...valid(), subject: '' }],
    ['a date without a zone', { ...valid(), occurred_at: '2024-01-01T10:00:00' }],
    ['an unparseable date', { ...valid(), occurred_at: '2024-13-45T99:00:00Z' }],
    ['a missing correlation_id', { ...valid(), correlation_id: undefined }],
    ['a numeric correlation_id', { ...valid(), correlation_id: 7 }],
    ['no data', (({ data: _d, ...rest }) => rest)(valid())],
  ])('rejects %s', (_what, value) => {
    expect(validateEnvelope(value).ok).toBe(false);
  });

  it('parses bytes and refuses invalid JSON or UTF-8', () => {
    const e = valid();
    expect(parseEnvelope(new TextEncoder().encode(JSON.stringify(e)))).toEqual({ ok: true, envelope: e });
    expect(parseEnvelope('{"id":')).toEqual({ ok: false, error: 'payload is not valid UTF-8 JSON' });
    expect(parseEnvelope(new Uint8Array([0x7b, 0xff, 0x7d])).ok).toBe(false);
  });
});

describe('naming', () => {
  it('derives every subject and stream from the prefix', () => {
    expect(eventSubject('nova', 'auth', 'user', 'registered')).toBe('nova.auth.user.registered');
    expect(eventFilter('nova')).toBe('nova.>');
    expect(eventFilter('nova', 'auth')).toBe('nova.auth.>');
    expect(eventFilter('nova', 'auth', 'user')).toBe('nova.auth.user.*');
    expect(streamNames('t1a2b')).toEqual({ events: 'T1A2B_EVENTS', dlq: 'T1A2B_DLQ', replay: 'T1A2B_REPLAY' });
    expect(streamSubjects('nova')).toEqual({ events: 'nova.>', dlq: 'nova_dlq.>', replay: 'nova_replay.>' });
    expect(consumerName('feed', 'fanout')).toBe('feed-fanout');
    expect(dlqSubject('nova', 'feed-fanout')).toBe('nova_dlq.feed-fanout');
    expect(replayFilter('nova', 'feed-fanout')).toBe('nova_replay.feed-fanout.>');
    expect(replaySubject('nova', 'feed-fanout', 'nova.content.post.created')).toBe('nova_replay.feed-fanout.content.post.created');
    expect(outboxStatusBucket('nova')).toBe('nova_outbox_status');
  });

  it('refuses tokens that would change the subject structure', () => {
    expect(() => eventSubject('nova', 'auth', 'user.x', 'registered')).toThrow(/aggregate/);
    expect(() => eventSubject('nova', 'auth', 'user', '*')).toThrow(/action/);
    expect(() => streamNames('bad prefix')).toThrow(/prefix/);
    expect(() => consumerName('feed', 'fan out')).toThrow(/purpose/);
  });
});

