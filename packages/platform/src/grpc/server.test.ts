import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/read.js';
import { AppError } from '../errors/index.js';
import { createLogger } from '../logging/index.js';
import { createMetrics, type PlatformMetrics } from '../metrics/index.js';
import { generateDevCertificates, type DevCertificates } from './dev-certs.js';
import { createGrpcServer, unary, type AddServiceOptions, type GrpcServer, type GrpcServerOptions } from './server.js';
import { ERROR_CODE_METADATA_KEY } from './status.js';

const HealthDefinition = healthService as unknown as grpc.ServiceDefinition;
const HealthClient = grpc.makeGenericClientConstructor(HealthDefinition, 'grpc.health.v1.Health');
const logger = createLogger({ level: 'silent' });

interface CheckResponse {
  status: string;
}

/** The generic client's methods, as grpc-js builds them from the health service definition. */
interface HealthStub extends grpc.Client {
  Check(request: { service: string }, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (err: grpc.ServiceError | null, res: CheckResponse) => void): grpc.ClientUnaryCall;
  Watch(request: { service: string }, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>): grpc.ClientReadableStream<CheckResponse>;
}

let certs: DevCertificates;
let tmp: string;
const servers: GrpcServer[] = [];
const clients: grpc.Client[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'nova-grpc-server-'));
  certs = await generateDevCertificates(tmp, { services: ['feed', 'search'] });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown(100)));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function tlsServerOptions(requireClientCert: boolean) {
  return { enabled: true, caCertPath: certs.ca.cert, serverCertPath: certs.server.cert, serverKeyPath: certs.server.key, requireClientCert };
}

async function startServer(
  overrides: Partial<GrpcServerOptions> = {},
  setup?: (server: GrpcServer) => void,
): Promise<{ server: GrpcServer; port: number; metrics: PlatformMetrics }> {
  const metrics = overrides.metrics ?? createMetrics({ defaultMetrics: false });
  const server = createGrpcServer({ appEnv: 'test', tls: tlsServerOptions(true), logger, metrics, serviceLabel: 'test', ...overrides });
  setup?.(server);
  servers.push(server);
  const port = await server.listen('127.0.0.1', 0);
  return { server, port, metrics };
}

/** Registers grpc-health-check's implementation through the Nova wrapper (so allow lists and metrics apply). */
function addWrappedHealth(server: GrpcServer, impl: HealthImplementation, opts: AddServiceOptions): void {
  impl.addToServer({ addService: (def: unknown, handlers: unknown) => server.addService(def as grpc.ServiceDefinition, handlers as grpc.UntypedServiceImplementation, opts) });
}

async function clientCredentials(identity?: 'feed' | 'search'): Promise<grpc.ChannelCredentials> {
  const ca = await readFile(certs.ca.cert);
  if (!identity) return grpc.credentials.createSsl(ca);
  const pair = certs.clients[identity]!;
  return grpc.credentials.createSsl(ca, await readFile(pair.key), await readFile(pair.cert));
}

function client(port: number, credentials: grpc.ChannelCredentials): HealthStub {
  // The server certificate names localhost; connecting by IP with that name avoids Node's SNI-by-IP warning.
  const c = new HealthClient(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
  clients.push(c);
  return c as unknown as HealthStub;
}

function check(c: HealthStub, service = ''): Promise<CheckResponse> {
  return new Promise((resolve, reject) => {
    c.Check({ service }, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function watchFirst(c: HealthStub, service = ''): Promise<CheckResponse> {
  return new Promise((resolve, reject) => {
    const stream = c.Watch({ service }, new grpc.Metadata(), { deadline: Date.now() + 5_000 });
    stream.on('data', (msg: CheckResponse) => {
      resolve(msg);
      stream.cancel();
    });
    stream.on('error', reject);
  });
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').toBeDefined();
  return err as grpc.ServiceError;
}

describe('createGrpcServer: TLS policy', () => {
  it('refuses a plaintext server in production, naming the variables to set', () => {
    const make = (appEnv: 'production' | 'staging') => () =>
      createGrpcServer({ appEnv, tls: { enabled: false, requireClientCert: false }, logger, metrics: createMetrics({ defaultMetrics: false }), serviceLabel: 'test' });
    expect(make('production')).toThrow(ConfigError);
    for (const v of ['GRPC_TLS_ENABLED', 'GRPC_TLS_SERVER_CERT_PATH', 'GRPC_TLS_SERVER_KEY_PATH', 'GRPC_TLS_CA_CERT_PATH']) {
      expect(make('production')).toThrow(v);
      expect(make('staging')).toThrow(v);
    }
  });

  it('in production with TLS on, names exactly the missing paths', () => {
    let err: unknown;
    try {
      createGrpcServer({
        appEnv: 'production',
        tls: { enabled: true, serverCertPath: '/x.crt', requireClientCert: true },
        logger,
        metrics: createMetrics({ defaultMetrics: false }),
        serviceLabel: 'test',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'GRPC_TLS_SERVER_KEY_PATH: required when GRPC_TLS_ENABLED=true',
      'GRPC_TLS_CA_CERT_PATH: required when APP_ENV=production',
    ]);
  });

  it('names the variable of an unreadable file', () => {
    expect(() =>
      createGrpcServer({
        appEnv: 'production',
        tls: { ...tlsServerOptions(true), serverKeyPath: join(tmp, 'missing.key') },
        logger,
        metrics: createMetrics({ defaultMetrics: false }),
        serviceLabel: 'test',
      }),
    ).toThrow(/GRPC_TLS_SERVER_KEY_PATH: cannot read .*missing\.key \(ENOENT\)/);
  });

  it('rejects a key that does not match the certificate', () => {
    expect(() =>
      createGrpcServer({
        appEnv: 'development',
        tls: { ...tlsServerOptions(false), serverKeyPath: certs.clients.feed!.key },
        logger,
        metrics: createMetrics({ defaultMetrics: false }),
        serviceLabel: 'test',
      }),
    ).toThrow(/GRPC_TLS_SERVER_CERT_PATH, GRPC_TLS_SERVER_KEY_PATH/);
  });

  it('allows plaintext in development and test', async () => {
    const { port } = await startServer({ appEnv: 'development', tls: { enabled: false, requireClientCert: false } });
    expect(await check(client(port, grpc.credentials.createInsecure()))).toEqual({ status: 'SERVING' });
  });
});

describe('createGrpcServer: TLS and mTLS end to end', () => {
  it('serves the standard health service over TLS and reports per-service statuses', async () => {
    const { server, port } = await startServer({ tls: tlsServerOptions(false) });
    server.health.set('nova.events.v1', 'SERVING');
    server.setServing('nova.feed.v1', false);
    const c = client(port, await clientCredentials());
    expect(await check(c)).toEqual({ status: 'SERVING' });
    expect(await check(c, 'nova.events.v1')).toEqual({ status: 'SERVING' });
    expect(await check(c, 'nova.feed.v1')).toEqual({ status: 'NOT_SERVING' });
    expect((await failure(check(c, 'nova.unknown.v1'))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('a plaintext client cannot talk to a TLS server', async () => {
    const { port } = await startServer({ tls: tlsServerOptions(false) });
    expect((await failure(check(client(port, grpc.credentials.createInsecure())))).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses a client without a certificate when mTLS is required, and admits one with a CA-signed certificate', async () => {
    const { port } = await startServer({ tls: tlsServerOptions(true) });
    expect((await failure(check(client(port, await clientCredentials())))).code).toBe(grpc.status.UNAVAILABLE);
    expect(await check(client(port, await clientCredentials('feed')))).toEqual({ status: 'SERVING' });
  });

  it('refuses a certificate signed by another CA', async () => {
    const other = await generateDevCertificates(join(tmp, 'other'), { services: ['feed'] });
    const { port } = await startServer({ tls: tlsServerOptions(true) });
    const creds = grpc.credentials.createSsl(await readFile(certs.ca.cert), await readFile(other.clients.feed!.key), await readFile(other.clients.feed!.cert));
    expect((await failure(check(client(port, creds)))).code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('createGrpcServer: allow lists', () => {
  const impl = new HealthImplementation({ '': 'SERVING' });

  it('admits a caller whose certificate CN is on the list and refuses one that is not with PERMISSION_DENIED', async () => {
    const { port } = await startServer({ health: false }, (s) => addWrappedHealth(s, impl, { allow: { Check: ['feed'] } }));
    expect(await check(client(port, await clientCredentials('feed')))).toEqual({ status: 'SERVING' });

    const err = await failure(check(client(port, await clientCredentials('search'))));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('search may not call /grpc.health.v1.Health/Check');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['FORBIDDEN']);
  });

  it('leaves methods without a list open to any caller that passed TLS, and accepts ts-proto style names', async () => {
    const { port } = await startServer({ health: false }, (s) => addWrappedHealth(s, impl, { allow: { check: ['feed'] } }));
    const search = client(port, await clientCredentials('search'));
    expect((await failure(check(search))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await watchFirst(search)).toEqual({ status: 'SERVING' });
  });

  it('applies the "*" entry to every method, and the "*" identity to any verified caller', async () => {
    const { port } = await startServer({ health: false }, (s) => addWrappedHealth(s, impl, { allow: { '*': ['feed'], Check: ['*'] } }));
    const search = client(port, await clientCredentials('search'));
    expect(await check(search)).toEqual({ status: 'SERVING' });
    expect((await failure(watchFirst(search))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await watchFirst(client(port, await clientCredentials('feed')))).toEqual({ status: 'SERVING' });
  });

  it('refuses a caller without a certificate with UNAUTHENTICATED (TLS without mTLS)', async () => {
    const { port } = await startServer({ health: false, tls: tlsServerOptions(false) }, (s) => addWrappedHealth(s, impl, { allow: { Check: ['feed'] } }));
    const err = await failure(check(client(port, await clientCredentials())));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['UNAUTHENTICATED']);
  });

  it('rejects an allow list naming a method the service does not have', () => {
    const server = createGrpcServer({ appEnv: 'test', tls: tlsServerOptions(true), logger, metrics: createMetrics({ defaultMetrics: false }), serviceLabel: 'test', health: false });
    expect(() => addWrappedHealth(server, impl, { allow: { Chek: ['feed'] } })).toThrow(/unknown method "Chek" of grpc.health.v1.Health/);
  });
});

describe('createGrpcServer: errors and metrics', () => {
  function serverWith(check: grpc.handleUnaryCall<unknown, unknown>, watch?: grpc.handleServerStreamingCall<unknown, unknown>) {
    return startServer({ health: false }, (s) => s.addService(HealthDefinition, { check, ...(watch ? { watch } : {}) }));
  }

  it('sends a thrown AppError as its gRPC status, with the stable code and the public message', async () => {
    const { port } = await serverWith(() => {
      throw new AppError('NOT_FOUND', 'service nova.x.v1 not found');
    });
    const err = await failure(check(client(port, await clientCredentials('feed'))));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('service nova.x.v1 not found');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['NOT_FOUND']);
  });

  it('never leaks the internal message of a server-side AppError, also from an async handler', async () => {
    const { port } = await serverWith(async () => {
      await Promise.resolve();
      throw new AppError('DEPENDENCY_UNAVAILABLE', 'postgres at 10.0.0.5:5432 refused the connection');
    });
    const err = await failure(check(client(port, await clientCredentials('feed'))));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toBe('a dependency is temporarily unavailable');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['DEPENDENCY_UNAVAILABLE']);
  });

  it('turns an unknown error into INTERNAL "internal error"', async () => {
    const { port } = await serverWith((_call, callback) => callback(new Error('TypeError: cannot read x of undefined at /srv/app.js:12')));
    const err = await failure(check(client(port, await clientCredentials('feed'))));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('internal error');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['INTERNAL']);
  });

  it('maps a raw status passed to the callback through the error table', async () => {
    const { port } = await serverWith((_call, callback) => callback({ code: grpc.status.ALREADY_EXISTS, details: 'handle taken' }));
    const err = await failure(check(client(port, await clientCredentials('feed'))));
    expect(err.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(err.details).toBe('handle taken');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['CONFLICT']);
  });

  it('maps errors of server-streaming handlers too', async () => {
    const { port } = await serverWith(
      (_call, callback) => callback(null, { status: 'SERVING' }),
      async () => {
        throw new AppError('FORBIDDEN', 'watching is not allowed');
      },
    );
    const err = await failure(watchFirst(client(port, await clientCredentials('feed'))));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('watching is not allowed');
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['FORBIDDEN']);
  });

  it('feeds grpc_requests_total and grpc_request_duration_seconds with the status name', async () => {
    let calls = 0;
    const { port, metrics } = await serverWith(
      unary(async () => {
        if (calls++ === 0) return { status: 'SERVING' };
        throw new AppError('NOT_FOUND', 'nope');
      }),
      (call) => {
        call.write({ status: 'SERVING' });
        call.end();
      },
    );
    const c = client(port, await clientCredentials('feed'));
    await check(c);
    await failure(check(c));
    await failure(check(c));
    await watchFirst(c);
    await new Promise((r) => setTimeout(r, 50));

    const text = await metrics.registry.metrics();
    expect(text).toContain('grpc_requests_total{service="test",method="grpc.health.v1.Health/Check",code="OK"} 1');
    expect(text).toContain('grpc_requests_total{service="test",method="grpc.health.v1.Health/Check",code="NOT_FOUND"} 2');
    expect(text).toContain('grpc_requests_total{service="test",method="grpc.health.v1.Health/Watch",code="OK"} 1');
    expect(text).toContain('grpc_request_duration_seconds_count{service="test",method="grpc.health.v1.Health/Check",code="NOT_FOUND"} 2');
  });
});

describe('GrpcServer: one process, several services', () => {
  it('labels metrics with the service given to addService', async () => {
    const { port, metrics } = await startServer({ health: false, serviceLabel: 'nova' }, (s) =>
      s.addService(HealthDefinition, { check: unary(async () => ({ status: 'SERVING' })) }, { service: 'events', healthName: 'nova.events.v1' }),
    );
    await check(client(port, await clientCredentials('feed')));
    expect(await metrics.registry.metrics()).toContain('grpc_requests_total{service="events",method="grpc.health.v1.Health/Check",code="OK"} 1');
  });
});

describe('GrpcServer.shutdown', () => {
  it('the built-in health service owns its paths', () => {
    const server = createGrpcServer({ appEnv: 'test', tls: tlsServerOptions(true), logger, metrics: createMetrics({ defaultMetrics: false }), serviceLabel: 'test' });
    expect(() => server.addService(HealthDefinition, { check: () => undefined })).toThrow(/already provided/);
  });

  it('reports NOT_SERVING, drains, and cancels calls still running after the grace period', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const hanging = createGrpcServer({ appEnv: 'test', tls: tlsServerOptions(true), logger, metrics, serviceLabel: 'test', health: false });
    hanging.addService(HealthDefinition, { check: () => undefined }, { healthName: 'nova.feed.v1' });
    const hangingPort = await hanging.listen('127.0.0.1', 0);
    expect(hanging.health.get('')).toBe('SERVING');
    expect(hanging.health.get('nova.feed.v1')).toBe('SERVING');

    const pending = failure(check(client(hangingPort, await clientCredentials('feed'))));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await hanging.shutdown(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(hanging.health.get('')).toBe('NOT_SERVING');
    expect(hanging.health.get('nova.feed.v1')).toBe('NOT_SERVING');
    expect([grpc.status.CANCELLED, grpc.status.UNAVAILABLE]).toContain((await pending).code);
  });
});
