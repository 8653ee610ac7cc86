import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { createTestEnv, TEST_NATS_URL, type TestEnv } from '@nova/testing';
import { createLogger } from '../logging/logger.js';
import { connectNats, ensureStreams, NatsStartupError, type NatsHandle } from './nats.js';
import { outboxStatusBucket, streamNames } from './naming.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const MINUTE_NS = 60_000_000_000;
const DAY_NS = 24 * 60 * MINUTE_NS;

let env: TestEnv;
let nats: NatsHandle;

beforeAll(async () => {
  env = await createTestEnv();
  nats = await connectNats({ servers: TEST_NATS_URL, name: 'nats-test', logger });
});

afterAll(async () => {
  await nats?.close();
  await env?.cleanup();
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('connectNats', () => {
  it('fails at boot with a clear error when NATS is unreachable', async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`;
    const err = await connectNats({ servers: url, name: 'nowhere', logger, connectTimeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsStartupError);
    expect((err as NatsStartupError).code).toBe('NATS_UNREACHABLE');
    expect((err as Error).message).toContain(`cannot connect to NATS at ${url}`);
  });
});

describe('ensureStreams', () => {
  it('creates the events, dead-letter and replay streams and the status bucket, idempotently', async () => {
    const prefix = env.natsPrefix;
    await ensureStreams(nats.jsm, prefix);
    await ensureStreams(nats.jsm, prefix);
    const names = streamNames(prefix);
    const events = (await nats.jsm.streams.info(names.events)).config;
    expect(events).toMatchObject({ subjects: [`${prefix}.>`], storage: 'file', duplicate_window: 2 * MINUTE_NS, max_age: 7 * DAY_NS });
    expect((await nats.jsm.streams.info(names.dlq)).config).toMatchObject({ subjects: [`${prefix}_dlq.>`], storage: 'file', max_age: 30 * DAY_NS });
    expect((await nats.jsm.streams.info(names.replay)).config).toMatchObject({ subjects: [`${prefix}_replay.>`], storage: 'file' });
    const kv = await new Kvm(nats.js).open(outboxStatusBucket(prefix));
    expect((await kv.status()).history).toBe(1);
  });

  it('updates the limits of existing streams', async () => {
    const prefix = env.natsPrefix;
    await ensureStreams(nats.jsm, prefix);
    await ensureStreams(nats.jsm, prefix, { eventsMaxAgeMs: 86_400_000 });
    expect((await nats.jsm.streams.info(streamNames(prefix).events)).config.max_age).toBe(DAY_NS);
  });
});
