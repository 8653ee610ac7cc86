import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryAcks } from '../src/domain/receipts.js';
import { Redis } from 'ioredis';
import { revokeSessions } from '@nova/platform';
import { TEST_REDIS_URL } from '@nova/testing';
import { openSocket, startMessagingService, type MessagingHarness, type TestUser } from './support.js';

describe('WebSocket /ws (nova.v1)', () => {
  let h: MessagingHarness;
  beforeAll(async () => {
    h = await startMessagingService({ MESSAGING_WS_MAX_CONNECTIONS_PER_USER: '2' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const url = () => `ws://127.0.0.1:${h.platform.httpPort}/ws`;
  const open = async (a: TestUser, b: TestUser) => (await h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'direct', user_id: b.id } })).body.id as string;
  const send = (u: TestUser, conv: string, text: string) => h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: u.token, body: { text } });

  it('authenticates before the upgrade: bearer subprotocol or Authorization header, never the query string', async () => {
    const alice = await h.newUser();
    const hello = await h.connect(alice);
    expect(hello.ws.protocol).toBe('nova.v1');
    expect(hello.frames[0]).toMatchObject({ type: 'hello', protocol: 'nova.v1', user_id: alice.id });
    hello.close();
    const viaHeader = await h.connect(alice, { protocols: ['nova.v1'], headers: { authorization: `Bearer ${alice.token}` } });
    expect(viaHeader.frames[0].user_id).toBe(alice.id);
    viaHeader.close();

    await expect(openSocket(url(), ['nova.v1'])).rejects.toMatchObject({ statusCode: 401 });
    await expect(openSocket(`${url()}?access_token=${alice.token}`, ['nova.v1'])).rejects.toMatchObject({ statusCode: 401 });
    await expect(openSocket(url(), ['nova.v1', 'bearer.not-a-token'])).rejects.toMatchObject({ statusCode: 401 });
    await expect(openSocket(url(), [`bearer.${alice.token}`])).rejects.toMatchObject({ statusCode: 400 });
  });

  it('delivers a sent message to every member socket (all devices), not to others', async () => {
    const [alice, bob, eve] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const [a, b1, b2, e] = [await h.connect(alice), await h.connect(bob), await h.connect(bob), await h.connect(eve)];
    const sent = (await send(alice, conv, 'hello over the socket')).body;
    for (const s of [a, b1, b2]) {
      const f = await s.next((x) => x.type === 'message' && x.message.id === sent.id, 'the message');
      expect(f).toMatchObject({ conversation_id: conv, message: { seq: 1, text: 'hello over the socket', sender_id: alice.id } });
    }
    // Eve gets her own conversation's message, and never saw alice's.
    const ec = await open(eve, alice);
    await send(alice, ec, 'for eve');
    await e.next((x) => x.type === 'message' && x.conversation_id === ec, "eve's message");
    expect(e.frames.some((x) => x.type === 'message' && x.conversation_id === conv)).toBe(false);
    for (const s of [a, b1, b2, e]) s.close();
  });

  it('reaches a user connected to another instance (Redis fan-out)', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const other = await h.secondInstance();
    const b = await h.connect(bob, { port: other.httpPort });
    const sent = (await send(alice, conv, 'across instances')).body;
    await b.next((x) => x.type === 'message' && x.message.id === sent.id, 'the message on the other instance');
    // And back: a read on instance two reaches alice on instance one.
    const a = await h.connect(alice);
    b.send({ type: 'read', conversation_id: conv, seq: 1, ref: 'r1' });
    await b.next((x) => x.type === 'ok' && x.ref === 'r1', 'ok');
    expect(await a.next((x) => x.type === 'receipt', 'the receipt')).toMatchObject({ conversation_id: conv, user_id: bob.id, read_seq: 1, delivered_seq: 1 });
    a.close();
    b.close();
  });

  it('resume replays what a client missed, in order, and says whether it is complete', async () => {
    const [alice, bob, eve] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    for (const t of ['one', 'two', 'three']) await send(alice, conv, t);
    const b = await h.connect(bob);
    b.send({ type: 'resume', ref: 'x', conversations: [{ conversation_id: conv, after_seq: 1 }] });
    const done = await b.next((x) => x.type === 'resumed', 'resumed');
    expect(done).toMatchObject({ ref: 'x', conversation_id: conv, through_seq: 3, last_seq: 3, complete: true });
    expect(b.frames.filter((x) => x.type === 'message').map((x) => x.message.text)).toEqual(['two', 'three']);
    // Not a member: the same answer as a conversation that does not exist.
    const e = await h.connect(eve);
    e.send({ type: 'resume', ref: 'y', conversations: [{ conversation_id: conv, after_seq: 0 }] });
    expect(await e.next((x) => x.type === 'error' && x.ref === 'y', 'error')).toMatchObject({ code: 'NOT_FOUND', details: { conversation_id: conv } });
    expect(e.frames.some((x) => x.type === 'message')).toBe(false);
    b.close();
    e.close();
  });

  it('acks move the delivered position (coalesced) and the sender sees delivery and typing', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const [a, b] = [await h.connect(alice), await h.connect(bob)];
    await send(alice, conv, 'one');
    await send(alice, conv, 'two');
    b.send({ type: 'ack', conversation_id: conv, seq: 1 });
    b.send({ type: 'ack', conversation_id: conv, seq: 2 });
    expect(await a.next((x) => x.type === 'receipt' && x.delivered_seq === 2, 'delivery receipt')).toMatchObject({ user_id: bob.id });
    const member = (await h.api('GET', `/api/v1/conversations/${conv}`, { token: alice.token })).body.members.find((m: any) => m.user_id === bob.id);
    expect(member).toMatchObject({ last_delivered_seq: 2, last_read_seq: 0 });
    b.send({ type: 'typing', conversation_id: conv });
    expect(await a.next((x) => x.type === 'typing', 'typing')).toEqual({ type: 'typing', conversation_id: conv, user_id: bob.id });
    a.close();
    b.close();
  });

  it('a WebSocket ack from a pending message-request recipient moves nothing and tells the sender nothing', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    await h.settings(bob, { who_can_message: 'nobody' });
    const conv = await open(alice, bob);
    const [a, b] = [await h.connect(alice), await h.connect(bob)];
    await send(alice, conv, 'a request');
    await b.next((f) => f.type === 'message_request' && f.conversation_id === conv, 'message_request frame');
    b.send({ type: 'ack', conversation_id: conv, seq: 1, ref: 'k' });
    await b.next((f) => f.type === 'ok' && f.ref === 'k', 'ok');
    // Past a flush (1 s): still nothing stored, nothing pushed to the sender.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(a.frames.some((f) => f.type === 'receipt')).toBe(false);
    const row = await h.db.selectFrom('members').select('last_delivered_seq').where('conversation_id', '=', conv).where('user_id', '=', bob.id).executeTakeFirstOrThrow();
    expect(Number(row.last_delivered_seq)).toBe(0);
    a.close();
    b.close();
  });

  it('a block closes presence and typing between the two users of a direct conversation', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    expect((await h.api('POST', `/api/v1/users/${bob.id}/block`, { token: alice.token })).status).toBeLessThan(300);
    const b = await h.connect(bob);
    const a = await h.connect(alice);
    // Bob, blocked, does not learn when alice is online: no frame, nothing over HTTP.
    const shown = await h.api('GET', `/api/v1/conversations/${conv}/presence`, { token: bob.token });
    expect(shown.status).toBe(200);
    expect(shown.body.items).toEqual([{ user_id: alice.id, online: null, last_active_at: null }]);
    // Nor does he reach her with typing indicators.
    b.send({ type: 'typing', conversation_id: conv, ref: 't' });
    expect(await b.next((f) => f.ref === 't', 'typing answer')).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await new Promise((r) => setTimeout(r, 500));
    expect(b.frames.some((f) => f.type === 'presence' && f.user_id === alice.id)).toBe(false);
    expect(a.frames.some((f) => f.type === 'typing' || (f.type === 'presence' && f.user_id === bob.id))).toBe(false);
    a.close();
    b.close();
  });

  it('delivery acks: a flush of more acks than one statement can carry loses none of them', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await send(alice, conv, 'one');
    const published: unknown[] = [];
    const acks = new DeliveryAcks({ db: h.db, config: { MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS: 50 }, realtime: { publish: async (...a: unknown[]) => void published.push(a) } } as never);
    // One client naming 30 000 conversations (made up) in a second, and bob's real ack among them.
    for (let i = 0; i < 30_000; i++) acks.add(bob.id, randomUUID(), 1);
    acks.add(bob.id, conv, 1);
    await acks.flush();
    const row = await h.db.selectFrom('members').select('last_delivered_seq').where('conversation_id', '=', conv).where('user_id', '=', bob.id).executeTakeFirstOrThrow();
    expect(Number(row.last_delivered_seq)).toBe(1);
    expect(published).toHaveLength(1);
  });

  it('presence: online while a socket is open, last active after, pushed to members as `presence` frames; hidden by show_activity_status, both ways', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'group', name: 'p', member_ids: [bob.id, carol.id] } })).body.id;
    const presence = async (u: TestUser) => {
      const res = await h.api('GET', `/api/v1/conversations/${g}/presence`, { token: u.token });
      expect(res.status).toBe(200);
      return Object.fromEntries(res.body.items.map((i: any) => [i.user_id, i]));
    };
    expect(await presence(alice)).toEqual({ [bob.id]: { user_id: bob.id, online: false, last_active_at: null }, [carol.id]: { user_id: carol.id, online: false, last_active_at: null } });
    const c = await h.connect(carol);
    const b = await h.connect(bob);
    await expect.poll(async () => (await presence(alice))[bob.id].online).toBe(true);
    expect(await c.next((f) => f.type === 'presence' && f.user_id === bob.id && f.online === true, 'bob online frame')).toMatchObject({ last_active_at: expect.any(String) });
    b.close();
    await expect.poll(async () => (await presence(alice))[bob.id].online).toBe(false);
    expect((await presence(alice))[bob.id].last_active_at).not.toBeNull();
    await c.next((f) => f.type === 'presence' && f.user_id === bob.id && f.online === false, 'bob offline frame');

    await h.settings(bob, { privacy: { show_activity_status: false } });
    expect((await presence(alice))[bob.id]).toEqual({ user_id: bob.id, online: null, last_active_at: null });
    // Hidden: no frames either.
    const seen = c.frames.length;
    const b2 = await h.connect(bob);
    await expect.poll(async () => (await h.api('GET', `/api/v1/conversations/${g}/presence`, { token: carol.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.frames.slice(seen).filter((f) => f.type === 'presence' && f.user_id === bob.id)).toEqual([]);
    b2.close();
    c.close();
    // Bob hides his own status: he sees nobody's either.
    expect((await presence(bob))[carol.id]).toEqual({ user_id: carol.id, online: null, last_active_at: null });
    expect((await h.api('GET', `/api/v1/conversations/${g}/presence`, { token: (await h.newUser()).token })).status).toBe(404);
  });

  it('answers bad frames with errors and closes after too many (1008); pings get pongs', async () => {
    const alice = await h.newUser();
    const s = await h.connect(alice);
    s.send({ type: 'ping', ref: 'p' });
    expect(await s.next((x) => x.type === 'pong', 'pong')).toEqual({ type: 'pong', ref: 'p' });
    s.send('not json');
    expect(await s.next((x) => x.type === 'error', 'error')).toMatchObject({ code: 'BAD_REQUEST' });
    s.send({ type: 'read', conversation_id: 'nope', seq: 1, ref: 'r' });
    expect(await s.next((x) => x.type === 'error' && x.ref === 'r', 'error')).toMatchObject({ code: 'BAD_REQUEST' });
    for (let i = 0; i < 12; i++) s.send({ type: 'dance' });
    expect(await s.closed).toMatchObject({ code: 1008 });
  });

  it('closes the oldest socket when a user opens too many (4008); metrics count connections, closes, messages and frames', async () => {
    const alice = await h.newUser();
    const first = await h.connect(alice);
    await h.connect(alice);
    await h.connect(alice);
    expect(await first.closed).toMatchObject({ code: 4008 });
    const bob = await h.newUser();
    await send(alice, await open(alice, bob), 'counted');
    const metrics = await (await fetch(`http://127.0.0.1:${h.platform.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^messaging_ws_closes_total\{code="4008"\} [1-9]/m);
    expect(metrics).toMatch(/^messaging_ws_connections [1-9]/m);
    expect(metrics).toMatch(/^messaging_messages_sent_total\{kind="direct"\} [1-9]/m);
    expect(metrics).toMatch(/^messaging_ws_frames_sent_total [1-9]/m);
  });

  it('tells every client to resync when the fan-out subscription had to reconnect (frames may have been lost)', async () => {
    const alice = await h.newUser();
    const s = await h.connect(alice);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const name = `nova-messaging-fanout:${h.platform.config.REDIS_KEY_PREFIX}`;
      // This environment's subscribers (one per instance): every instance then tells its own clients.
      const lines = ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${name} `));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) await redis.client('KILL', 'ID', l.match(/^id=(\d+)/)![1]!);
    } finally {
      redis.disconnect();
    }
    await s.next((x) => x.type === 'resync', 'resync');
    // Delivery works again after the reconnect.
    const bob = await h.newUser();
    const conv = await open(bob, alice);
    const sent = (await send(bob, conv, 'after the reconnect')).body;
    await s.next((x) => x.type === 'message' && x.message.id === sent.id, 'the message');
    s.close();
  });

  it('closes with 4001 when the session is revoked, and when the token expires', async () => {
    const alice = await h.newUser();
    const sid = crypto.randomUUID();
    const token = await h.issuer.sign({ sub: alice.id, sid });
    const s = await h.connect(token);
    const redis = new Redis(TEST_REDIS_URL, { keyPrefix: h.platform.config.REDIS_KEY_PREFIX });
    try {
      await revokeSessions(redis, h.platform.config.REDIS_KEY_PREFIX, [{ sid, until: Date.now() + 900_000 }]);
    } finally {
      redis.disconnect();
    }
    expect(await s.closed).toMatchObject({ code: 4001, reason: 'session ended' });

    const now = Math.floor(Date.now() / 1000);
    const short = await h.issuer.sign({ sub: alice.id, iat: now, nbf: now, exp: now + 2 });
    const t = await h.connect(short);
    expect(await t.closed).toMatchObject({ code: 4001, reason: 'token expired' });
  });
});
