import { describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { CLOSE, Hub, type Connection } from './hub.js';

/** A stand-in for a `ws` socket: records what was sent and how it was closed. */
function fakeSocket(bufferedAmount = 0) {
  return {
    OPEN: 1,
    CLOSING: 2,
    CLOSED: 3,
    readyState: 1,
    bufferedAmount,
    sent: [] as string[],
    closedWith: undefined as number | undefined,
    send(data: string) {
      this.sent.push(data);
    },
    close(code: number) {
      this.closedWith = code;
      this.readyState = 2;
    },
  };
}

function conn(userId: string, ws: ReturnType<typeof fakeSocket>, openedAt: number): Connection {
  return { ws: ws as unknown as Connection['ws'], userId, sessionId: 's', token: 't', expiresAt: new Date(Date.now() + 60_000), openedAt, alive: true };
}

function hub(maxConnectionsPerUser = 3) {
  const registry = new Registry();
  const metrics = { framesSent: new Counter({ name: 'f', help: 'f', registers: [registry] }), closes: new Counter({ name: 'c', help: 'c', labelNames: ['code'], registers: [registry] }) };
  return { hub: new Hub({ maxBufferedBytes: 1_000, maxConnectionsPerUser, metrics }), registry };
}

describe('Hub', () => {
  it('with sessions, delivers only to the sockets of those sessions (a device): e2ee envelopes', () => {
    const { hub: h } = hub();
    const [s1, s2] = [fakeSocket(), fakeSocket()];
    h.add({ ...conn('a', s1, 1), sessionId: 'device-session' });
    h.add({ ...conn('a', s2, 2), sessionId: 'other-session' });
    expect(h.deliver(['a'], 'envelope', undefined, new Set(['device-session']))).toBe(1);
    expect(s1.sent).toEqual(['envelope']);
    expect(s2.sent).toEqual([]);
  });

  it('delivers to every socket of the named users only', () => {
    const { hub: h } = hub();
    const [a1, a2, b] = [fakeSocket(), fakeSocket(), fakeSocket()];
    h.add(conn('a', a1, 1));
    h.add(conn('a', a2, 2));
    h.add(conn('b', b, 3));
    expect(h.deliver(['a', 'nobody'], 'x')).toBe(2);
    expect([a1.sent, a2.sent, b.sent]).toEqual([['x'], ['x'], []]);
    expect(h.size).toBe(3);
  });

  it('closes a socket whose queue is over the limit (1013) instead of queueing more', async () => {
    const { hub: h, registry } = hub();
    const slow = fakeSocket(5_000);
    const fast = fakeSocket(0);
    h.add(conn('a', slow, 1));
    h.add(conn('b', fast, 2));
    expect(h.deliver(['a', 'b'], 'x')).toBe(1);
    expect(slow.sent).toEqual([]);
    expect(slow.closedWith).toBe(CLOSE.tryAgainLater);
    expect(fast.sent).toEqual(['x']);
    expect(await registry.getSingleMetricAsString('c')).toContain('code="1013"} 1');
  });

  it('closes the oldest sockets of a user beyond the limit (4008)', () => {
    const { hub: h } = hub(2);
    const [s1, s2, s3] = [fakeSocket(), fakeSocket(), fakeSocket()];
    h.add(conn('a', s1, 1));
    h.add(conn('a', s2, 2));
    h.add(conn('a', s3, 3));
    expect([s1.closedWith, s2.closedWith, s3.closedWith]).toEqual([CLOSE.tooManyConnections, undefined, undefined]);
    expect(h.deliver(['a'], 'x')).toBe(2);
    expect(h.userIds()).toEqual(['a']);
  });
});
