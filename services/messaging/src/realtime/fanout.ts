import type { Logger, Redis } from '@nova/platform';
import type { MessagingMetrics } from '../metrics.js';
import type { Frame, FramePosition, Hub } from './hub.js';

/** Tells clients that frames may have been lost: they should `resume`. */
const RESYNC = JSON.stringify({ type: 'resync' });

/** What domain code uses to push frames to users' sockets, wherever they are connected. */
export interface Realtime {
  /**
   * Delivers `frame` to every open socket of `userIds`, on every instance. Best effort and after the
   * fact: callers publish after their transaction committed, and a frame that is lost (Redis down, an
   * instance restarting) is caught up by sequence number. Never rejects.
   */
  publish(userIds: readonly string[], frame: Frame, opts?: PublishOptions): Promise<void>;
}

export interface PublishOptions {
  /** Only the sockets opened by these sessions (a device's sockets: end-to-end-encrypted envelopes). */
  sessions?: readonly string[];
}

/**
 * Cross-instance delivery over Redis pub/sub: one channel per deployment (`<REDIS_KEY_PREFIX>messaging:deliver`,
 * ioredis does not prefix channels), carrying the recipients with each frame
 * (`{"to":[user ids],"at":[conversation id, seq]?,"sid":[session ids]?}\n<frame JSON>`, `at` for new messages, `sid` for frames meant for one device's sockets, so each socket
 * gets each message once and in order); every instance hands the frame to its own sockets of those
 * recipients. One PUBLISH per event whatever the group size.
 */
export class RedisFanout implements Realtime {
  readonly channel: string;
  private subscriber: Redis | undefined;

  constructor(
    private readonly opts: { redis: Redis; hub: Hub; logger: Logger; keyPrefix: string; metrics: Pick<MessagingMetrics, 'publishFailures'> },
  ) {
    this.channel = `${opts.keyPrefix}messaging:deliver`;
  }

  async start(): Promise<void> {
    const sub = this.opts.redis.duplicate({ lazyConnect: true, connectionName: `nova-messaging-fanout:${this.opts.keyPrefix}`.replace(/[^\x21-\x7e]/g, '_') });
    sub.on('error', (err: Error) => this.opts.logger.warn({ err: { message: err.message } }, 'messaging fan-out subscriber: redis error'));
    sub.on('message', (_channel: string, payload: string) => this.onMessage(payload));
    // Every 'ready' after the first is a reconnect: frames published meanwhile never arrived here, so every
    // local client is told to resume.
    let connected = false;
    sub.on('ready', () => {
      if (connected) this.opts.hub.broadcast(RESYNC);
      connected = true;
    });
    await sub.connect();
    await sub.subscribe(this.channel);
    this.subscriber = sub;
  }

  async stop(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) sub.disconnect();
  }

  async publish(userIds: readonly string[], frame: Frame, opts: PublishOptions = {}): Promise<void> {
    if (userIds.length === 0) return;
    // Recipients, a newline, then the frame as it goes to the sockets: receivers parse only the header.
    const message = frame.type === 'message' ? (frame.message as { conversation_id?: string; seq?: number } | undefined) : undefined;
    const at = message?.conversation_id && typeof message.seq === 'number' ? [message.conversation_id, message.seq] : undefined;
    const wire = `${JSON.stringify({ to: userIds, ...(at ? { at } : {}), ...(opts.sessions ? { sid: opts.sessions } : {}) })}\n${JSON.stringify(frame)}`;
    try {
      await this.opts.redis.publish(this.channel, wire);
    } catch (err) {
      this.opts.metrics.publishFailures.inc();
      this.opts.logger.warn({ err: { message: (err as Error).message }, frame: frame.type }, 'messaging fan-out: publish failed (clients catch up by seq)');
    }
  }

  private onMessage(payload: string): void {
    const cut = payload.indexOf('\n');
    let header: { to?: unknown; at?: unknown; sid?: unknown } | undefined;
    try {
      header = JSON.parse(payload.slice(0, cut)) as typeof header;
    } catch {
      header = undefined;
    }
    if (cut < 0 || !header || !Array.isArray(header.to)) {
      this.opts.logger.warn('messaging fan-out: unreadable frame dropped');
      return;
    }
    const at = Array.isArray(header.at) && typeof header.at[0] === 'string' && typeof header.at[1] === 'number' ? ({ conversationId: header.at[0], seq: header.at[1] } satisfies FramePosition) : undefined;
    const sessions = Array.isArray(header.sid) ? new Set(header.sid.filter((s): s is string => typeof s === 'string')) : undefined;
    this.opts.hub.deliver(header.to as string[], payload.slice(cut + 1), at, sessions);
  }
}
