import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/read.js';
import { AppError } from '../errors/index.js';
import { createLogger } from '../logging/index.js';
import { createMetrics, type PlatformMetrics } from '../metrics/index.js';
import { createBreaker } from '../resilience/index.js';
import { channelSettings, createGrpcClient, type ClientConstructor, type GrpcClient, type UnaryMethod } from './client.js';
import { generateDevCertificates, type DevCertificates } from './dev-certs.js';
import { createGrpcServer, type GrpcServer } from './server.js';
import type { ClientTlsOptions } from './tls.js';

const HealthDefinition = healthService as unknown as grpc.ServiceDefinition;
const HealthClient = grpc.makeGenericClientConstructor(HealthDefinition, 'grpc.health.v1.Health');
type HealthStub = grpc.Client & { Check: UnaryMethod<{ service: string }, { status: string }> };
const logger = createLogger({ level: 'silent' });

let certs: DevCertificates;
let tmp: string;
const servers: GrpcServer[] = [];
const clients: GrpcClient<grpc.Client>[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'nova-grpc-client-'));
  certs = await generateDevCertificates(tmp, { services: ['feed'] });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown(100)));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function clientTls(): ClientTlsOptions {
  return { enabled: true, caCertPath: certs.ca.cert, clientCertPath: certs.clients.feed!.cert, clientKeyPath: certs.clients.feed!.key, domainName: 'localhost' };
}

async function startServer(check?: grpc.handleUnaryCall<unknown, unknown>): Promise<number> {
  const server = createGrpcServer({
    appEnv: 'test',
    tls: { enabled: true, caCertPath: certs.ca.cert, serverCertPath: certs.server.cert, serverKeyPath: certs.server.key, requireClientCert: true },
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    serviceLabel: 'test',
    health: check === undefined,
  });
  if (check) server.addService(HealthDefinition, { check });
  servers.push(server);
  return server.listen('127.0.0.1', 0);
}

function healthClient(target: string, metrics: PlatformMetrics, extra: { deadlineMs?: number; perMethodDeadlineMs?: Record<string, number> } = {}) {
  const breaker = createBreaker({ dependency: 'health', metrics });
  const client = createGrpcClient(HealthClient as unknown as ClientConstructor<HealthStub>, {
    target,
    appEnv: 'test',
    tls: clientTls(),
    breaker,
    ...extra,
  });
  clients.push(client);
  return client;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

async function series(metrics: PlatformMetrics, name: 'circuitBreakerState' | 'circuitBreakerFailures', dependency: string): Promise<number | undefined> {
  return (await metrics[name].get()).values.find((v) => v.labels.dependency === dependency)?.value;
}

describe('channelSettings', () => {
  it('refuses plaintext in production and staging, naming the variables', () => {
    for (const appEnv of ['production', 'staging'] as const) {
      const make = () => channelSettings({ target: 'auth:9090', appEnv, tls: { enabled: false } });
      expect(make).toThrow(ConfigError);
      expect(make).toThrow('GRPC_TLS_ENABLED');
      expect(make).toThrow('GRPC_TLS_CA_CERT_PATH');
    }
  });

  it('allows plaintext in development and asks for certificate and key together', () => {
    expect(channelSettings({ target: 'auth:9090', appEnv: 'development', tls: { enabled: false } }).address).toBe('auth:9090');
    expect(() => channelSettings({ target: 'auth:9090', appEnv: 'development', tls: { enabled: true, clientCertPath: certs.clients.feed!.cert } })).toThrow(
      'GRPC_TLS_CLIENT_KEY_PATH: required when GRPC_TLS_CLIENT_CERT_PATH is set',
    );
  });

  it('carries the expected server name and a deadline interceptor', () => {
    const s = channelSettings({ target: '10.0.0.7:9090', appEnv: 'production', tls: clientTls() });
    expect(s.options['grpc.ssl_target_name_override']).toBe('localhost');
    expect(s.options.interceptors).toHaveLength(1);
  });
});

describe('GrpcClient over mTLS', () => {
  it('calls through TLS end to end', async () => {
    const port = await startServer();
    const client = healthClient(`127.0.0.1:${port}`, createMetrics({ defaultMetrics: false }));
    await expect(client.call(client.stub.Check, { service: '' })).resolves.toEqual({ status: 'SERVING' });
  });

  it('turns the callee\'s AppError back into the same AppError, public details included', async () => {
    const port = await startServer(() => {
      throw new AppError('VALIDATION_FAILED', 'service name is too long', { details: { field: 'service', max: 64 } });
    });
    const metrics = createMetrics({ defaultMetrics: false });
    const client = healthClient(`127.0.0.1:${port}`, metrics);
    const err = await rejection(client.call(client.stub.Check, { service: 'x'.repeat(100) }));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toBe('service name is too long');
    expect(err.details).toEqual({ field: 'service', max: 64 });
    // A client error proves the dependency answered: no breaker failure.
    expect(await series(metrics, 'circuitBreakerFailures', 'health')).toBeUndefined();
  });

  it('keeps NOT_FOUND and other answers out of the breaker', async () => {
    const port = await startServer();
    const metrics = createMetrics({ defaultMetrics: false });
    const client = healthClient(`127.0.0.1:${port}`, metrics);
    for (let i = 0; i < 7; i++) expect((await rejection(client.call(client.stub.Check, { service: 'nova.missing.v1' }))).code).toBe('NOT_FOUND');
    expect(client.breaker.state).toBe('closed');
  });

  it('puts a deadline on every call (per method when configured) and counts a timeout against the breaker', async () => {
    const port = await startServer(() => undefined); // never answers
    const metrics = createMetrics({ defaultMetrics: false });
    const client = healthClient(`127.0.0.1:${port}`, metrics, { deadlineMs: 60_000, perMethodDeadlineMs: { Check: 150 } });
    const started = Date.now();
    const err = await rejection(client.call(client.stub.Check, { service: '' }));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(err.message).toBe('call to health exceeded its deadline');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await series(metrics, 'circuitBreakerFailures', 'health')).toBe(1);

    const quick = await rejection(client.call(client.stub.Check, { service: '' }, { deadlineMs: 50 }));
    expect(quick.code).toBe('DEADLINE_EXCEEDED');
  });

  it('cancels a call when its signal aborts', async () => {
    const port = await startServer(() => undefined);
    const client = healthClient(`127.0.0.1:${port}`, createMetrics({ defaultMetrics: false }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(client.call(client.stub.Check, { service: '' }, { signal: controller.signal }));
    expect(err.message).toBe('call to health was cancelled');
    expect(client.breaker.state).toBe('closed');
  });
});

describe('GrpcClient circuit breaker', () => {
  it('opens after 5 consecutive UNAVAILABLE failures, then fails fast with CIRCUIT_OPEN', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const client = healthClient(`127.0.0.1:${await closedPort()}`, metrics);
    for (let i = 0; i < 5; i++) {
      const err = await rejection(client.call(client.stub.Check, { service: '' }));
      expect(err.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(err.details).toEqual({ dependency: 'health' });
    }
    expect(client.breaker.state).toBe('open');
    expect(await series(metrics, 'circuitBreakerState', 'health')).toBe(1);
    expect(await series(metrics, 'circuitBreakerFailures', 'health')).toBe(5);

    const started = performance.now();
    const open = await rejection(client.call(client.stub.Check, { service: '' }));
    expect(open.code).toBe('CIRCUIT_OPEN');
    expect(performance.now() - started).toBeLessThan(50);
    expect(await series(metrics, 'circuitBreakerFailures', 'health')).toBe(5);

    const text = await metrics.registry.metrics();
    expect(text).toContain('circuit_breaker_state{dependency="health"} 1');
    expect(text).toContain('circuit_breaker_failures_total{dependency="health"} 5');
  });
});
