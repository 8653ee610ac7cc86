import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

/** Realtime guarantees of issue 7: two OS processes, resume exactly once and in order per device, heartbeats. */
describe('messaging realtime', () => {
  let h: MessagingHarness;
  beforeAll(async () => {
    h = await startMessagingService({ MESSAGING_WS_HEARTBEAT_SECONDS: '5', MESSAGING_WS_MAX_BUFFERED_KIB: '64' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const open = async (a: TestUser, b: TestUser) => (await h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'direct', user_id: b.id } })).body.id as string;
  const send = (u: TestUser, conv: string, text: string, port?: number) => h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: u.token, body: { text } }, port);

  it('two instances in two OS processes: sender and recipient on different ones, the message arrives both ways', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const other = await h.secondProcess();
    try {
      const b = await h.connect(bob, { port: other.httpPort });
      const a = await h.connect(alice);
      const one = (await send(alice, conv, 'from process one')).body;
      expect((await b.next((f) => f.type === 'message' && f.message.id === one.id, 'message on process two')).message).toMatchObject({ seq: 1, text: 'from process one' });
      const two = await send(bob, conv, 'from process two', other.httpPort);
      expect(two.status).toBe(201);
      expect((await a.next((f) => f.type === 'message' && f.message.id === two.body.id, 'message on process one')).message).toMatchObject({ seq: 2, sender_id: bob.id });
      a.close();
      b.close();
    } finally {
      await other.stop();
    }
  });

  it('resume after a disconnect delivers what was missed exactly once and in order, per device, while new messages keep coming', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const phone = await h.connect(bob);
    for (let i = 1; i <= 3; i++) await send(alice, conv, `m${i}`);
    await phone.next((f) => f.type === 'message' && f.message.seq === 3, 'm3 on the phone');
    phone.close();
    await phone.closed;
    // Offline: 4..10 are missed.
    for (let i = 4; i <= 10; i++) await send(alice, conv, `m${i}`);

    const again = await h.connect(bob);
    const laptop = await h.connect(bob);
    // New messages keep arriving while both devices resume from their own positions.
    const live = (async () => {
      for (let i = 11; i <= 20; i++) await send(alice, conv, `m${i}`);
    })();
    again.send({ type: 'resume', ref: 'p', conversations: [{ conversation_id: conv, after_seq: 3 }] });
    // The laptop resumes only after some new messages reached it live: those are not replayed again.
    await laptop.next((f) => f.type === 'message' && f.message.seq === 12, 'm12 live on the laptop');
    laptop.send({ type: 'resume', ref: 'l', conversations: [{ conversation_id: conv, after_seq: 0 }] });
    await live;
    await again.next((f) => f.type === 'message' && f.message.seq === 20, 'm20 on the phone');
    await laptop.next((f) => f.type === 'message' && f.message.seq === 20, 'm20 on the laptop');
    await new Promise((r) => setTimeout(r, 300));
    const seqs = (s: typeof again) => s.frames.filter((f) => f.type === 'message' && f.conversation_id === conv).map((f) => f.message.seq as number);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    // Once each: no duplicates, nothing missing; in order after the resume began.
    expect([...seqs(again)].sort((x, y) => x - y)).toEqual(range(4, 20));
    expect([...seqs(laptop)].sort((x, y) => x - y)).toEqual(range(1, 20));
    const resumedAt = (s: typeof again) => s.frames.findIndex((f) => f.type === 'resumed');
    for (const s of [again, laptop]) {
      const afterResume = s.frames.slice(resumedAt(s)).filter((f) => f.type === 'message').map((f) => f.message.seq as number);
      expect(afterResume).toEqual([...afterResume].sort((x, y) => x - y));
    }
    // Acks per device move bob's delivered position (the highest acked by any device).
    again.send({ type: 'ack', conversation_id: conv, seq: 20 });
    await expect.poll(async () => (await h.db.selectFrom('members').select('last_delivered_seq').where('conversation_id', '=', conv).where('user_id', '=', bob.id).executeTakeFirstOrThrow()).last_delivered_seq, { timeout: 5_000 }).toBe('20');
    again.close();
    laptop.close();
  });

  it('heartbeats drop a dead socket (no pong) within two intervals', async () => {
    const alice = await h.newUser();
    const dead = new WebSocket(`ws://127.0.0.1:${h.platform.httpPort}/ws`, ['nova.v1', `bearer.${alice.token}`], { autoPong: false });
    const closed = new Promise<number>((r) => dead.on('close', (code) => r(code)));
    await new Promise((r, j) => {
      dead.once('message', r);
      dead.once('error', j);
    });
    const alive = await h.connect(alice);
    const t0 = Date.now();
    const code = await closed;
    // Terminated, not closed with a handshake: the client sees an abnormal closure.
    expect(code).toBe(1006);
    expect(Date.now() - t0).toBeLessThan(12_000);
    // A socket that answers pings stays.
    alive.send({ type: 'ping', ref: 'still-here' });
    await alive.next((f) => f.type === 'pong' && f.ref === 'still-here', 'pong');
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    const metrics = await (await fetch(`http://127.0.0.1:${h.platform.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/messaging_ws_closes_total\{[^}]*code="no_pong"[^}]*\} [1-9]/);
    alive.close();
  }, 20_000);

  it('edits, recalls, reactions, receipts and typing reach every connected device of every member', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const devices = [await h.connect(alice), await h.connect(alice), await h.connect(bob), await h.connect(bob)];
    await send(alice, conv, 'first');
    await send(alice, conv, 'second');
    await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'first, edited' } });
    await h.api('PUT', `/api/v1/conversations/${conv}/messages/1/reactions/${encodeURIComponent('🎉')}`, { token: bob.token });
    await h.api('DELETE', `/api/v1/conversations/${conv}/messages/2`, { token: alice.token });
    await h.api('POST', `/api/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 2 } });
    devices[2]!.send({ type: 'typing', conversation_id: conv });
    for (const [i, d] of devices.entries()) {
      await d.next((f) => f.type === 'message_edited' && f.message.text === 'first, edited', `edit on device ${i}`);
      await d.next((f) => f.type === 'reaction' && f.emoji === '🎉' && f.user_id === bob.id && f.previous_emoji === null, `reaction on device ${i}`);
      await d.next((f) => f.type === 'message_recalled' && f.seq === 2, `recall on device ${i}`);
    }
    for (const d of devices.slice(0, 2)) {
      await d.next((f) => f.type === 'receipt' && f.user_id === bob.id && f.read_seq === 2, 'receipt to alice');
      await d.next((f) => f.type === 'typing' && f.user_id === bob.id, 'typing to alice');
    }
    // Bob's other device learns his read position; nobody gets their own typing back.
    await devices[3]!.next((f) => f.type === 'read' && f.read_seq === 2, "bob's read on his other device");
    expect(devices[2]!.frames.some((f) => f.type === 'typing')).toBe(false);
    for (const d of devices) d.close();
  });

  it('a slow consumer cannot grow the server queue without bound: past MESSAGING_WS_MAX_BUFFERED_KIB it is closed with 1013 (reconnect and resume)', async () => {
    // Eight senders (the `api` rate limit is per user), one slow reader.
    const bob = await h.newUser();
    const senders = await Promise.all(Array.from({ length: 8 }, () => h.newUser()));
    const conv = (await h.api('POST', '/api/v1/conversations', { token: senders[0]!.token, body: { type: 'group', name: 'firehose', member_ids: [bob.id, ...senders.slice(1).map((u) => u.id)] } })).body.id as string;
    const slow = await h.connect(bob);
    const fast = await h.connect(bob);
    // The client stops reading: TCP buffers fill, then the server's queue for this socket.
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const closes = async () => {
      const text = await (await fetch(`http://127.0.0.1:${h.platform.httpPort}/metrics`)).text();
      return Number(/messaging_ws_closes_total\{[^}]*code="1013"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await closes();
    const big = 'x'.repeat(8_000);
    let sent = 0;
    while ((await closes()) === before && sent < 640) {
      const res = await Promise.all(senders.map((u) => send(u, conv, big)));
      expect(res.map((r) => r.status)).toEqual(senders.map(() => 201));
      sent += senders.length;
    }
    expect(await closes()).toBe(before + 1);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).toBe(1013);
    // Only that socket: the reading device got everything and stays open.
    await fast.next((f) => f.type === 'message' && f.message.seq === sent, 'the last message on the reading device');
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    fast.close();
  }, 60_000);
});
