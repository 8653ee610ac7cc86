import websocket from '@fastify/websocket';
import { AppError, bearerToken, invalidCredentials, isUuid, missingCredentials, publicMessage, toAppError, type AuthIdentity, type HttpApp } from '@nova/platform';
import type { FastifyRequest, FastifySchema } from 'fastify';
import type { WebSocket } from 'ws';
import type { AppContext } from '../../context.js';
import * as cq from '../../db/queries/conversations.js';
import { catchUp } from '../../domain/messages.js';
import { ackEnvelopes, MAX_ACK } from '../../e2ee/envelopes.js';
import { advance, DeliveryAcks, typing } from '../../domain/receipts.js';
import { CLOSE, type Connection, type Frame } from '../../realtime/hub.js';

/** The subprotocol a client must offer (and the server selects): the version of the frame protocol. */
export const PROTOCOL = 'nova.v1';
/** A subprotocol carrying the access token, for browsers, which cannot set headers on a WebSocket. */
const BEARER_PREFIX = 'bearer.';
/** Largest client frame; a bigger one closes the socket with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Conversations one `resume` frame may name. */
export const MAX_RESUME = 100;
/** Client frames a connection may have waiting to be handled; one more closes it with 1008. */
const MAX_QUEUED_FRAMES = 32;
/** Unreadable or invalid frames a connection may send before it is closed with 1008. */
const MAX_BAD_FRAMES = 10;
/** A connection's typing frames for one conversation are passed on at most this often. */
const TYPING_INTERVAL_MS = 3_000;
/** How often sockets are checked for an expired or revoked session. */
const SESSION_SWEEP_MS = 1_000;
const ACK_FLUSH_MS = 1_000;
/** Most users one presence change is pushed to. */
const MAX_PRESENCE_CONTACTS = 500;
/** Live message seqs remembered per socket and conversation (duplicate suppression). */
const RECENT_SEQS = 256;
/** How long a `resume` waits for a socket's queue to drain before giving up on the client. */
const DRAIN_TIMEOUT_MS = 30_000;

declare module 'fastify' {
  interface FastifyRequest {
    wsToken?: string;
  }
}

function offeredProtocols(req: FastifyRequest): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  return (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((p) => p.trim()).filter((p) => p.length > 0);
}

interface State {
  conn: Connection;
  typingAt: Map<string, number>;
  badFrames: number;
  /** Per conversation, the seq up to which a `resume` replayed everything: live frames at or below it are not sent again. */
  through: Map<string, number>;
  /** Per conversation, the seqs of the latest live `message` frames sent (bounded): none is sent twice. */
  recent: Map<string, Set<number>>;
  /** Conversations being replayed (`resume`): live messages wait here, then follow the replay in order. */
  held: Map<string, { seq: number; data: string }[]>;
}

/**
 * `GET /ws`: the `nova.v1` WebSocket. The access token comes in the `Authorization: Bearer` header or, for
 * browsers, as a second subprotocol `bearer.<token>` (never in the URL, which ends up in logs); it is
 * verified before the upgrade (401 otherwise). The socket closes with 4001 when the token expires or the
 * session is revoked, 4008 when the user opens too many, 1013 when it cannot keep up, 1001 on shutdown.
 */
export function wsGateway(ctx: AppContext) {
  const acks = new DeliveryAcks(ctx);
  const states = new Map<WebSocket, State>();
  const timers: NodeJS.Timeout[] = [];

  const sendFrame = (conn: Connection, frame: Frame) => {
    if (ctx.hub.send(conn, JSON.stringify(frame))) ctx.metrics.framesSent.inc();
  };

  const fail = (st: State, ref: unknown, err: unknown) => {
    const e = toAppError(err);
    if (e.isServerError) ctx.logger.error({ err: e, cause: e.cause, user_id: st.conn.userId }, 'websocket frame failed');
    sendFrame(st.conn, { type: 'error', ...(typeof ref === 'string' ? { ref } : {}), code: e.code, message: publicMessage(e), ...(e.isServerError || !e.details ? {} : { details: e.details }) });
  };

  const bad = (st: State, ref: unknown, message: string) => {
    st.badFrames++;
    sendFrame(st.conn, { type: 'error', ...(typeof ref === 'string' ? { ref } : {}), code: 'BAD_REQUEST', message });
    if (st.badFrames > MAX_BAD_FRAMES) ctx.hub.close(st.conn, CLOSE.policy, 'too many invalid frames');
  };

  const seqOf = (v: unknown, min: number): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : undefined);

  /**
   * Resolves once the socket's queue is under half the slow-consumer limit (or the socket is gone); a
   * client that reads nothing for DRAIN_TIMEOUT_MS is closed as a slow consumer.
   */
  async function drained(conn: Connection): Promise<void> {
    const limit = (ctx.config.MESSAGING_WS_MAX_BUFFERED_KIB * 1024) / 2;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (conn.ws.readyState === conn.ws.OPEN && conn.ws.bufferedAmount > limit) {
      if (Date.now() > deadline) {
        ctx.hub.close(conn, CLOSE.tryAgainLater, 'slow consumer');
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Whether this socket has not had message `seq` of the conversation yet (and records that it now has). */
  function firstTime(st: State, conversationId: string, seq: number): boolean {
    if (seq <= (st.through.get(conversationId) ?? 0)) return false;
    let recent = st.recent.get(conversationId);
    if (!recent) st.recent.set(conversationId, (recent = new Set()));
    if (recent.has(seq)) return false;
    recent.add(seq);
    // Forget the earliest remembered (a Set iterates in insertion order): constant time per message.
    if (recent.size > RECENT_SEQS) recent.delete(recent.values().next().value!);
    return true;
  }

  /**
   * Tells the members of `userId`'s conversations of at most MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS members
   * (like receipts; larger groups ask GET …/presence) that they came online or went offline, when their
   * `privacy.show_activity_status` allows it; a recipient who hides their own status gets none. At most
   * MAX_PRESENCE_CONTACTS are told, so a connect costs bounded work (one query, one user-service call).
   */
  async function announce(userId: string, online: boolean): Promise<void> {
    try {
      const contacts = await cq.contactsOf(ctx.db, userId, ctx.config.MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS, MAX_PRESENCE_CONTACTS);
      if (contacts.length === 0) return;
      const [settings, blocked] = await Promise.all([ctx.users.settings([userId, ...contacts]), ctx.users.blockedEitherWay(userId)]);
      if (settings.get(userId)?.showActivityStatus !== true) return;
      // Nobody across a block (either way) is told.
      const to = contacts.filter((u) => settings.get(u)?.showActivityStatus === true && !blocked.has(u));
      await ctx.realtime.publish(to, { type: 'presence', user_id: userId, online, last_active_at: new Date().toISOString() });
    } catch (err) {
      ctx.logger.debug({ err: { message: (err as Error).message }, user_id: userId }, 'presence frame not sent');
    }
  }

  async function onFrame(st: State, raw: string): Promise<void> {
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad(st, undefined, 'a frame is a JSON object');
      frame = parsed as Record<string, unknown>;
    } catch {
      return bad(st, undefined, 'a frame is a JSON object');
    }
    const ref = typeof frame.ref === 'string' && frame.ref.length <= 64 ? frame.ref : undefined;
    const ok = () => ref !== undefined && sendFrame(st.conn, { type: 'ok', ref });
    const userId = st.conn.userId;
    const conv = typeof frame.conversation_id === 'string' && isUuid(frame.conversation_id) ? frame.conversation_id.toLowerCase() : undefined;
    try {
      switch (frame.type) {
        case 'ping':
          sendFrame(st.conn, { type: 'pong', ...(ref !== undefined ? { ref } : {}) });
          return;
        case 'ack': {
          const seq = seqOf(frame.seq, 1);
          if (!conv || seq === undefined) return bad(st, ref, 'ack needs conversation_id and seq');
          acks.add(userId, conv, seq);
          ok();
          return;
        }
        case 'envelope_ack': {
          // End-to-end-encrypted envelopes of this socket's device (found through its session): deleted from the queue.
          const ids = frame.ids;
          if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ACK || !ids.every((id) => typeof id === 'string')) return bad(st, ref, `envelope_ack needs ids: 1-${MAX_ACK} envelope ids (strings)`);
          const deleted = await ackEnvelopes(ctx, { userId, sessionId: st.conn.sessionId }, ids as string[]);
          if (ref !== undefined) sendFrame(st.conn, { type: 'ok', ref, deleted });
          return;
        }
        case 'read': {
          const seq = seqOf(frame.seq, 1);
          if (!conv || seq === undefined) return bad(st, ref, 'read needs conversation_id and seq');
          await advance(ctx, { userId }, conv, { read: seq });
          ok();
          return;
        }
        case 'typing': {
          if (!conv) return bad(st, ref, 'typing needs conversation_id');
          const now = Date.now();
          if (now - (st.typingAt.get(conv) ?? 0) >= TYPING_INTERVAL_MS) {
            st.typingAt.set(conv, now);
            await typing(ctx, userId, conv);
          }
          ok();
          return;
        }
        case 'resume': {
          const list = frame.conversations;
          if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RESUME) return bad(st, ref, `resume needs conversations: 1-${MAX_RESUME} of {conversation_id, after_seq}`);
          const wanted: { id: string; after: number }[] = [];
          for (const item of list as unknown[]) {
            const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
            const after = seqOf(o.after_seq, 0);
            if (typeof o.conversation_id !== 'string' || !isUuid(o.conversation_id) || after === undefined) return bad(st, ref, 'each resume entry needs conversation_id and after_seq (an integer >= 0)');
            wanted.push({ id: o.conversation_id.toLowerCase(), after });
          }
          for (const w of wanted) {
            // A long replay waits for the socket to drain instead of tripping the slow-consumer limit.
            await drained(st.conn);
            if (st.conn.ws.readyState !== st.conn.ws.OPEN) return;
            // Live messages of this conversation wait until the replay is out: in order, none twice.
            st.held.set(w.id, []);
            try {
              const r = await catchUp(ctx, userId, w.id, w.after, ctx.config.MESSAGING_WS_RESUME_MAX_MESSAGES);
              // A message this socket already had live (before the resume) is not sent twice.
              for (const message of r.items) if (!st.recent.get(w.id)?.has(message.seq)) sendFrame(st.conn, { type: 'message', conversation_id: r.conversationId, message });
              const through = r.items.at(-1)?.seq ?? w.after;
              st.through.set(w.id, Math.max(st.through.get(w.id) ?? 0, through));
              sendFrame(st.conn, { type: 'resumed', ...(ref !== undefined ? { ref } : {}), conversation_id: r.conversationId, through_seq: through, last_seq: r.lastSeq, complete: r.complete });
              // Incomplete: the client pages over HTTP and resumes again; held frames would leave a gap.
              const held = st.held.get(w.id) ?? [];
              st.held.delete(w.id);
              if (r.complete) {
                for (const h of held.sort((a, b) => a.seq - b.seq)) {
                  if (firstTime(st, w.id, h.seq) && ctx.hub.send(st.conn, h.data)) ctx.metrics.framesSent.inc();
                }
              }
            } catch (err) {
              st.held.delete(w.id);
              if (err instanceof AppError && err.code === 'NOT_FOUND') {
                sendFrame(st.conn, { type: 'error', ...(ref !== undefined ? { ref } : {}), code: 'NOT_FOUND', message: 'conversation not found', details: { conversation_id: w.id } });
              } else throw err;
            }
          }
          return;
        }
        default:
          return bad(st, ref, `unknown frame type ${JSON.stringify(frame.type)}`);
      }
    } catch (err) {
      fail(st, ref, err);
    }
  }

  function accept(ws: WebSocket, identity: AuthIdentity, token: string): void {
    const conn: Connection = { ws, userId: identity.userId, sessionId: identity.sessionId, token, expiresAt: identity.expiresAt, openedAt: Date.now(), alive: true };
    const st: State = { conn, typingAt: new Map(), badFrames: 0, through: new Map(), recent: new Map(), held: new Map() };
    conn.gate = (at, data) => {
      const held = st.held.get(at.conversationId);
      if (held) {
        held.push({ seq: at.seq, data });
        return true;
      }
      return !firstTime(st, at.conversationId, at.seq);
    };
    const first = !ctx.hub.has(conn.userId);
    // hello first: nothing the hub delivers may overtake it.
    sendFrame(conn, { type: 'hello', protocol: PROTOCOL, user_id: conn.userId, heartbeat_seconds: ctx.config.MESSAGING_WS_HEARTBEAT_SECONDS, expires_at: conn.expiresAt.toISOString() });
    states.set(ws, st);
    ctx.hub.add(conn);
    void ctx.presence.here([conn.userId]).then(() => (first ? announce(conn.userId, true) : undefined));
    // Frames are handled one at a time per socket, in order; a client may not queue more than a few.
    let chain = Promise.resolve();
    let queued = 0;
    ws.on('message', (data, isBinary) => {
      conn.alive = true;
      if (isBinary) {
        bad(st, undefined, 'frames are text (JSON)');
        return;
      }
      if (queued >= MAX_QUEUED_FRAMES) {
        ctx.hub.close(conn, CLOSE.policy, 'too many frames in flight');
        return;
      }
      queued++;
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      chain = chain.then(() => onFrame(st, text)).finally(() => queued--);
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', () => {
      states.delete(ws);
      ctx.hub.remove(conn);
      if (!ctx.hub.has(conn.userId)) {
        void ctx.presence
          .gone(conn.userId)
          .then(() => ctx.presence.of([conn.userId]))
          .then((states) => (states.get(conn.userId)?.online ? undefined : announce(conn.userId, false)))
          .catch((err: unknown) => ctx.logger.debug({ err: { message: (err as Error).message } }, 'presence: offline not announced'));
      }
    });
    ws.on('error', (err) => ctx.logger.debug({ err: { message: err.message }, user_id: conn.userId }, 'websocket error'));
  }

  /** Closes sockets whose token expired or whose session was revoked (the verifier's in-memory revocation list). */
  async function sweepSessions(): Promise<void> {
    const now = Date.now();
    const verifier = ctx.tokenVerifier;
    for (const st of [...states.values()]) {
      const { conn } = st;
      if (now >= conn.expiresAt.getTime()) {
        ctx.hub.close(conn, CLOSE.sessionEnded, 'token expired');
        continue;
      }
      if (verifier.isSessionRevoked) {
        if (verifier.isSessionRevoked(conn.sessionId)) ctx.hub.close(conn, CLOSE.sessionEnded, 'session ended');
        continue;
      }
      // A verifier without a revocation list to ask: verify the token again.
      try {
        await verifier.verify(conn.token);
      } catch (err) {
        if (err instanceof AppError && err.code === 'UNAUTHENTICATED') ctx.hub.close(conn, CLOSE.sessionEnded, 'session ended');
      }
    }
  }

  function heartbeat(): void {
    void ctx.presence.here(ctx.hub.userIds());
    for (const st of states.values()) {
      const { conn } = st;
      if (!conn.alive) {
        ctx.metrics.closes.inc({ code: 'no_pong' });
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  return {
    async register(app: HttpApp): Promise<void> {
      await app.register(websocket, {
        options: {
          maxPayload: MAX_FRAME_BYTES,
          handleProtocols: (protocols: Set<string>) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
        },
        preClose(done) {
          for (const st of states.values()) ctx.hub.close(st.conn, CLOSE.goingAway, 'server shutting down');
          app.websocketServer.close(() => done());
        },
      });
      app.get(
        '/ws',
        {
          websocket: true,
          schema: { hide: true } as FastifySchema,
          // Before the upgrade: a refusal is a plain HTTP error response.
          onRequest: async (req) => {
            const offered = offeredProtocols(req);
            if (!offered.includes(PROTOCOL)) throw new AppError('BAD_REQUEST', `offer the WebSocket subprotocol ${PROTOCOL}`);
            const fromProtocol = offered.find((p) => p.startsWith(BEARER_PREFIX))?.slice(BEARER_PREFIX.length);
            const token = bearerToken(req.headers.authorization) ?? (fromProtocol ? bearerToken(`Bearer ${fromProtocol}`) : undefined);
            if (token === undefined) throw missingCredentials();
            try {
              req.identity = await ctx.tokenVerifier.verify(token, { logger: req.log });
            } catch (err) {
              if (err instanceof AppError && err.code === 'UNAUTHENTICATED') throw invalidCredentials(err);
              throw err;
            }
            req.wsToken = token;
          },
        },
        (socket, req) => accept(socket, req.identity!, req.wsToken!),
      );
    },
    start(): void {
      timers.push(setInterval(() => void sweepSessions().catch((err: unknown) => ctx.logger.warn({ err }, 'websocket session sweep failed')), SESSION_SWEEP_MS));
      timers.push(setInterval(heartbeat, ctx.config.MESSAGING_WS_HEARTBEAT_SECONDS * 1000));
      timers.push(setInterval(() => void acks.flush().catch((err: unknown) => ctx.logger.warn({ err }, 'delivery ack flush failed')), ACK_FLUSH_MS));
      for (const t of timers) t.unref();
    },
    async stop(): Promise<void> {
      for (const t of timers.splice(0)) clearInterval(t);
      for (const st of states.values()) ctx.hub.close(st.conn, CLOSE.goingAway, 'server shutting down');
      await acks.flush().catch((err: unknown) => ctx.logger.warn({ err }, 'delivery ack flush failed'));
    },
  };
}
