import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Logger } from '../logging/logger.js';
import { errorMessage } from './util.js';
import { outboxStatusBucket, streamNames, streamSubjects } from './naming.js';

export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Drains subscriptions and pending publishes, then closes (bounded by a timeout). */
  close(): Promise<void>;
}

export interface ConnectNatsOptions {
  /** One URL, a comma-separated list, or an array. */
  servers: string | string[];
  /** Client name shown by the server's monitoring. */
  name: string;
  logger: Logger;
  /** Handshake timeout of the first connection (default 5 s). */
  connectTimeoutMs?: number;
  /** Timeout of JetStream API calls and publish acknowledgements (default 5 s). */
  requestTimeoutMs?: number;
}

/** Thrown by connectNats when the server cannot be used at boot; `code` tells which way. */
export class NatsStartupError extends Error {
  constructor(
    readonly code: 'NATS_UNREACHABLE' | 'JETSTREAM_NOT_ENABLED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'NatsStartupError';
  }
}

function serverList(servers: string | string[]): string[] {
  const list = (Array.isArray(servers) ? servers : servers.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new Error('no NATS server given');
  return list;
}

/**
 * Connects to NATS with JetStream. The first connection must succeed (a clear error otherwise); after
 * that the client reconnects forever, buffering publishes while it is away.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsHandle> {
  const servers = serverList(opts.servers);
  const requestTimeout = opts.requestTimeoutMs ?? 5_000;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: opts.name,
      timeout: opts.connectTimeoutMs ?? 5_000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      reconnectJitter: 500,
      pingInterval: 20_000,
    });
  } catch (err) {
    throw new NatsStartupError('NATS_UNREACHABLE', `cannot connect to NATS at ${servers.join(', ')}: ${errorMessage(err)}`, { cause: err });
  }

  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: requestTimeout });
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw new NatsStartupError('JETSTREAM_NOT_ENABLED', `NATS at ${servers.join(', ')} answered, but jetstream not enabled (start nats-server with -js): ${errorMessage(err)}`, { cause: err });
  }
  const js = jetstream(nc, { timeout: requestTimeout });

  const log = opts.logger;
  const statusLoop = (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
      else if (s.type === 'reconnect') log.info({ server: s.server }, 'NATS reconnected');
      else if (s.type === 'error') log.warn({ err: s.error }, 'NATS error');
      else if (s.type === 'staleConnection') log.warn('NATS connection stale; reconnecting');
    }
  })().catch(() => undefined);

  let closing: Promise<void> | undefined;
  return {
    nc,
    js,
    jsm,
    close: () =>
      (closing ??= (async () => {
        if (!nc.isClosed()) {
          // drain() flushes what is buffered; it cannot finish while disconnected, so it is bounded.
          const drained = nc.drain().catch(() => undefined);
          const timeout = new Promise<void>((r) => setTimeout(r, 5_000).unref());
          await Promise.race([drained, timeout]);
          if (!nc.isClosed()) await nc.close().catch(() => undefined);
        }
        await statusLoop;
      })()),
  };
}

export interface StreamOptions {
  /** Stream replicas (1 on a single server, 3 on a cluster). */
  replicas?: number;
  eventsMaxAgeMs?: number;
  dlqMaxAgeMs?: number;
  replayMaxAgeMs?: number;
  /** JetStream de-duplication window for message ids (default 2 min). */
  duplicateWindowMs?: number;
}

const DAY = 86_400_000;

/** The stream configurations ensureStreams applies, exported for the events service's admin views. */
export function streamConfigs(prefix: string, opts: StreamOptions = {}): Array<Partial<StreamConfig> & { name: string }> {
  const names = streamNames(prefix);
  const subjects = streamSubjects(prefix);
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: opts.replicas ?? 1,
    duplicate_window: nanos(opts.duplicateWindowMs ?? 120_000),
  };
  return [
    { ...common, name: names.events, subjects: [subjects.events], max_age: nanos(opts.eventsMaxAgeMs ?? 7 * DAY), description: 'domain events published by the outbox relays' },
    // allow_direct: the events service pages through dead letters with direct get (next_by_subj).
    { ...common, name: names.dlq, subjects: [subjects.dlq], max_age: nanos(opts.dlqMaxAgeMs ?? 30 * DAY), allow_direct: true, description: 'events a consumer could not handle' },
    { ...common, name: names.replay, subjects: [subjects.replay], max_age: nanos(opts.replayMaxAgeMs ?? 7 * DAY), description: 'events re-driven to one named consumer' },
  ];
}

/**
 * Creates or updates the events, dead-letter and replay streams and the outbox status KV bucket.
 * Idempotent, and safe when several processes start at once.
 */
export async function ensureStreams(jsm: JetStreamManager, prefix: string, opts: StreamOptions = {}): Promise<void> {
  for (const cfg of streamConfigs(prefix, opts)) {
    try {
      await jsm.streams.add(cfg);
    } catch (err) {
      // 10058: the stream exists with another configuration (limits changed since it was created).
      if (!(err instanceof JetStreamApiError) || err.code !== 10058) throw err;
      const { name, retention: _r, storage: _s, ...mutable } = cfg;
      try {
        await jsm.streams.update(name, mutable);
      } catch (updateErr) {
        throw new Error(`stream ${name} exists with a configuration that cannot be updated: ${errorMessage(updateErr)}`, { cause: updateErr });
      }
    }
  }
  await new Kvm(jsm.jetstream()).create(outboxStatusBucket(prefix), {
    history: 1,
    storage: StorageType.File,
    replicas: opts.replicas ?? 1,
    description: 'outbox lag reported by every service relay',
  });
}
