import type { WebSocket } from 'ws';
import type { MessagingMetrics } from '../metrics.js';

/** A server → client frame of the `nova.v1` WebSocket protocol (see docs/API.md). */
export interface Frame {
  type: string;
  [key: string]: unknown;
}

/** One open WebSocket of a signed-in user on this instance. */
export interface Connection {
  readonly ws: WebSocket;
  readonly userId: string;
  readonly sessionId: string;
  /** The access token the socket was opened with (re-verified to notice revocation). */
  readonly token: string;
  readonly expiresAt: Date;
  readonly openedAt: number;
  /** A pong (or any frame) arrived since the last ping. */
  alive: boolean;
  /**
   * Sees every new-message frame for this connection before it is sent (its conversation and seq); true
   * when it took care of it (held back during a resume, or already sent): exactly once and in order per socket.
   */
  gate?: (position: FramePosition, data: string) => boolean;
}

/** Where a `message` frame sits: its conversation and sequence number. */
export interface FramePosition {
  conversationId: string;
  seq: number;
}

/** Close codes of the protocol (RFC 6455 registered ones, plus 4000-4999 of our own). */
export const CLOSE = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
  sessionEnded: 4001,
  tooManyConnections: 4008,
} as const;

/**
 * The WebSocket connections of this instance, by user. Delivery is best effort by design: a frame that
 * cannot be sent (socket closing, or a slow consumer whose queue is over the limit, which is closed with
 * 1013) is dropped, and the client catches up by sequence number (`resume`, or the HTTP history).
 */
export class Hub {
  private readonly byUser = new Map<string, Set<Connection>>();

  constructor(private readonly opts: { maxBufferedBytes: number; maxConnectionsPerUser: number; metrics: Pick<MessagingMetrics, 'framesSent' | 'closes'> }) {}

  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /** Adds a connection; when the user now holds too many here, the oldest ones are closed (4008). */
  add(conn: Connection): void {
    const set = this.byUser.get(conn.userId) ?? new Set<Connection>();
    set.add(conn);
    this.byUser.set(conn.userId, set);
    while (set.size > this.opts.maxConnectionsPerUser) {
      const oldest = [...set].reduce((a, b) => (a.openedAt <= b.openedAt ? a : b));
      set.delete(oldest);
      this.close(oldest, CLOSE.tooManyConnections, 'too many connections');
    }
  }

  /** Whether the user has a connection on this instance. */
  has(userId: string): boolean {
    return this.byUser.has(userId);
  }

  /** Users with a connection on this instance. */
  userIds(): string[] {
    return [...this.byUser.keys()];
  }

  /** Closes a connection with one of the protocol's codes (counted in messaging_ws_closes_total). */
  close(conn: Connection, code: number, reason: string): void {
    if (conn.ws.readyState === conn.ws.CLOSED || conn.ws.readyState === conn.ws.CLOSING) return;
    this.opts.metrics.closes.inc({ code: String(code) });
    conn.ws.close(code, reason);
  }

  remove(conn: Connection): void {
    const set = this.byUser.get(conn.userId);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.byUser.delete(conn.userId);
  }

  /** Sends an already serialised frame to every connection on this instance. */
  broadcast(data: string): void {
    for (const set of this.byUser.values()) for (const conn of set) this.send(conn, data);
  }

  /** Sends an already serialised frame to every local connection of the given users (new messages through each one's gate). */
  deliver(userIds: readonly string[], data: string, position?: FramePosition, sessions?: ReadonlySet<string>): number {
    let sent = 0;
    for (const id of userIds) {
      const set = this.byUser.get(id);
      if (!set) continue;
      for (const conn of set) {
        if (sessions && !sessions.has(conn.sessionId)) continue;
        if (position && conn.gate?.(position, data)) continue;
        if (this.send(conn, data)) sent++;
      }
    }
    this.opts.metrics.framesSent.inc(sent);
    return sent;
  }

  /** Sends to one connection, closing it as a slow consumer when its queue is too long. */
  send(conn: Connection, data: string): boolean {
    if (conn.ws.readyState !== conn.ws.OPEN) return false;
    if (conn.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      this.close(conn, CLOSE.tryAgainLater, 'slow consumer');
      return false;
    }
    conn.ws.send(data);
    return true;
  }
}
