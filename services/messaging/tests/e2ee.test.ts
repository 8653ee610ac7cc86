import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from '@nova/platform';
import { TEST_REDIS_URL, eventually } from '@nova/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalDevice } from './signal-client.js';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

/**
 * End-to-end encryption with real Signal-protocol clients (@signalapp/libsignal-client, dev dependency):
 * devices, PQXDH sessions from fetched bundles, envelopes over HTTP and WebSocket, and what the server keeps.
 */

let h: MessagingHarness;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  h = await startMessagingService({ MESSAGING_E2EE_PURGE_INTERVAL_SECONDS: '1' });
  [alice, bob, carol] = await Promise.all([h.newUser(), h.newUser(), h.newUser()]);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

async function conversation(owner: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await h.api('POST', '/api/v1/conversations', { token: owner.token, body: { ...body, mode: 'e2ee' } });
  if (res.status !== 201) throw new Error(`conversation: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  expect(res.body.mode).toBe('e2ee');
  return res.body.id;
}

/** Every value of every table of the test database, as text (bytea as hex). */
async function databaseText(): Promise<string> {
  const { rows: tables } = await sql<{ s: string; t: string }>`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`.execute(h.db);
  const parts: string[] = [];
  for (const { s, t } of tables) {
    const { rows } = await sql<{ r: string }>`SELECT x::text AS r FROM ${sql.table(`${s}.${t}`)} x`.execute(h.db);
    for (const r of rows) parts.push(r.r);
  }
  return parts.join('\n');
}

/** Every key and value under the harness's Redis prefix. */
async function redisText(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.env.redisKeyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** Every message stored in the JetStream streams of this environment. */
async function natsText(): Promise<string> {
  const parts: string[] = [];
  for await (const info of h.nats.jsm.streams.list()) {
    if (!info.config.name.toLowerCase().includes(h.env.natsPrefix.toLowerCase()) && !(info.config.subjects ?? []).some((s) => s.startsWith(h.env.natsPrefix))) continue;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
      const m = await h.nats.jsm.streams.getMessage(info.config.name, { seq }).catch(() => undefined);
      if (m) parts.push(m.subject, Buffer.from(m.data).toString('latin1'));
    }
  }
  return parts.join('\n');
}

/** The forms a leaked plaintext could take: as is, hex (bytea), base64. */
const forms = (p: string) => [p, Buffer.from(p).toString('hex'), Buffer.from(p).toString('base64')];

describe('real Signal clients through the server', () => {
  it('two users with two devices each exchange PQXDH messages both ways and in a group of three; every device decrypts everything, and no plaintext is left in PostgreSQL, Redis or NATS', async () => {
    // Everything published on Redis and NATS during the exchange is captured, stored or not.
    const tap = new Redis(TEST_REDIS_URL);
    const published: string[] = [];
    tap.on('pmessageBuffer', (_p: Buffer, ch: Buffer, msg: Buffer) => published.push(ch.toString(), msg.toString('latin1')));
    await tap.psubscribe('*');
    const natsTap = h.nats.nc.subscribe('>', { callback: (_e, m) => void published.push(m.subject, Buffer.from(m.data).toString('latin1')) });

    const a1 = await SignalDevice.register(h, alice.id);
    const a2 = await SignalDevice.register(h, alice.id, { identity: a1.identity });
    const b1 = await SignalDevice.register(h, bob.id);
    const b2 = await SignalDevice.register(h, bob.id, { identity: b1.identity });
    const c1 = await SignalDevice.register(h, carol.id);
    expect([a1.deviceId, a2.deviceId, b1.deviceId, b2.deviceId]).toEqual([1, 2, 1, 2]);

    const direct = await conversation(alice, { type: 'direct', user_id: bob.id });
    const secret = (label: string) => `${label} ${randomBytes(12).toString('hex')}`;
    const plaintexts: string[] = [];

    // Alice (device 1) → Bob: her first send learns the devices from the 409, fetches bundles, PQXDH.
    const m1 = secret('hello bob, from alice');
    plaintexts.push(m1);
    const sent = await a1.send(direct, m1, [alice.id, bob.id]);
    expect(sent.attempts).toBe(2);
    for (const d of [b1, b2, a2]) expect((await d.waitFor(m1)).senderDeviceId).toBe(1);

    // Bob (device 2) answers over the session Alice started with him, and starts one with his own device 1 and Alice's device 2.
    const m2 = secret('hi alice, from bob');
    plaintexts.push(m2);
    await b2.send(direct, m2, [alice.id, bob.id]);
    for (const d of [a1, a2, b1]) expect((await d.waitFor(m2)).senderId).toBe(bob.id);

    // And back again, from Alice's linked device.
    const m3 = secret('alice again, from her second device');
    plaintexts.push(m3);
    await a2.send(direct, m3, [alice.id, bob.id]);
    for (const d of [a1, b1, b2]) await d.waitFor(m3);

    // A group of three: Carol's devices join every client's fan-out (one envelope per device).
    const group = await conversation(alice, { type: 'group', name: 'trio', member_ids: [bob.id, carol.id] });
    const members = [alice.id, bob.id, carol.id];
    const g1 = secret('group hello from alice');
    const g2 = secret('group reply from carol');
    const g3 = secret('group reply from bob, device 1');
    plaintexts.push(g1, g2, g3);
    await a1.send(group, g1, members);
    for (const d of [a2, b1, b2, c1]) await d.waitFor(g1);
    await c1.send(group, g2, members);
    for (const d of [a1, a2, b1, b2]) await d.waitFor(g2);
    await b1.send(group, g3, members);
    for (const d of [a1, a2, b2, c1]) await d.waitFor(g3);
    for (const d of [a1, a2, b1, b2, c1]) expect(d.received.every((r) => plaintexts.includes(r.plaintext))).toBe(true);

    // Acknowledged over the WebSocket: every queue is empty.
    await eventually(async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.envelopes`.execute(h.db)).rows[0]!.n) === 0, 'every envelope acknowledged');

    // Standard-mode machinery is refused in e2ee conversations: nothing for the server to read or store.
    const plain = await h.api('POST', `/api/v1/conversations/${group}/messages`, { token: alice.token, body: { text: 'not encrypted' } });
    expect(plain.status).toBe(409);
    expect(plain.body.error.details.reason).toBe('e2ee_conversation');
    // Receipts (and typing) travel inside the ciphertext too: the server keeps no read positions.
    const read = await h.api('POST', `/api/v1/conversations/${group}/read`, { token: alice.token, body: { seq: 1 } });
    expect(read.status).toBe(409);
    expect(read.body.error.details.reason).toBe('e2ee_conversation');

    // Everything the exchange wrote to the outbox is on NATS before the streams are searched.
    await eventually(async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.outbox WHERE published_at IS NULL`.execute(h.db)).rows[0]!.n) === 0, 'the outbox to drain');
    await tap.punsubscribe();
    tap.disconnect();
    natsTap.unsubscribe();
    const db = await databaseText();
    const kv = await redisText(new Redis(TEST_REDIS_URL).on('error', () => undefined));
    const streams = await natsText();
    const wire = published.join('\n');
    // The tap saw the traffic (envelope frames went over Redis pub/sub): the search is not vacuous.
    expect(wire).toContain('"type":"envelope"');
    expect(db).toContain(direct);
    expect(streams).toContain('ConversationCreated');
    for (const p of plaintexts) {
      for (const f of forms(p)) {
        expect(db.includes(f), `PostgreSQL holds ${p}`).toBe(false);
        expect(kv.includes(f), `Redis holds ${p}`).toBe(false);
        expect(streams.includes(f), `NATS holds ${p}`).toBe(false);
        expect(wire.includes(f), `Redis/NATS carried ${p}`).toBe(false);
      }
    }
    for (const d of [a1, a2, b1, b2, c1]) d.close();
  }, 60_000);
});
