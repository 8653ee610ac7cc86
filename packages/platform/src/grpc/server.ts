import { performance } from 'node:perf_hooks';
import {
  Server,
  status as GrpcStatus,
  type Metadata,
  type ServerCredentials,
  type ServerOptions,
  type ServerUnaryCall,
  type ServiceDefinition,
  type StatusObject,
  type handleUnaryCall,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { AppEnv } from '../config/platform.js';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { PlatformMetrics } from '../metrics/index.js';
import { GrpcHealth, SERVER_HEALTH_NAME } from './health.js';
import { callerIdentities, type CallWithAuthContext } from './identity.js';
import { appErrorToStatus, grpcStatusName, toServerAppError } from './status.js';
import { serverCredentials, type ServerTlsOptions } from './tls.js';

export interface GrpcServerOptions {
  appEnv: AppEnv;
  tls: ServerTlsOptions;
  logger: Logger;
  metrics: PlatformMetrics;
  /** `service` label of `grpc_requests_total` / `grpc_request_duration_seconds` (overridable per addService). */
  serviceLabel: string;
  /** Serve `grpc.health.v1.Health` (default true). */
  health?: boolean;
  /** Extra grpc-js server options (message sizes, keepalive). */
  serverOptions?: ServerOptions;
}

export interface AddServiceOptions {
  /**
   * Per-method allow lists of caller identities (see {@link callerIdentities}). Keys are method names as in
   * the service definition (`getEvent`) or in the .proto (`GetEvent`); the key `'*'` applies to every method
   * without its own entry. The identity `'*'` admits any caller with a verified certificate. A method with
   * a list refuses callers without a certificate (UNAUTHENTICATED) and callers not on it (PERMISSION_DENIED);
   * a method without one is open to whoever passed the TLS layer.
   */
  allow?: Readonly<Record<string, readonly string[]>>;
  /**
   * The `service` metrics label of this service's methods, overriding the server's `serviceLabel` (one
   * process serving several Nova services labels each by its own name).
   */
  service?: string;
  /** Health name (`nova.events.v1`) reported SERVING from now on and NOT_SERVING at shutdown. */
  healthName?: string;
}

interface MethodContext {
  path: string;
  labels: { service: string; method: string };
  allow: ReadonlySet<string> | undefined;
  enforceAllowList: boolean;
  logger: Logger;
  metrics: PlatformMetrics;
}

type Reply = (err: unknown, value?: unknown, trailer?: Metadata, flags?: number) => void;
type SurfaceCall = CallWithAuthContext & NodeJS.EventEmitter & { getDeadline(): Date | number };
type CallbackHandler = (call: SurfaceCall, reply: Reply) => unknown;
type StreamHandler = (call: SurfaceCall) => unknown;

/**
 * A grpc-js server with Nova's rules: TLS mandatory outside development/test, mTLS identities checked
 * against per-method allow lists, errors mapped through the error table (never leaking internals), request
 * metrics, the standard health service, and a draining shutdown.
 *
 * Without TLS (development and test only) no caller can be identified, so allow lists are not enforced; a
 * warning says so at `listen`.
 */
export class GrpcServer {
  readonly server: Server;
  readonly health: GrpcHealth;
  /** Serving over TLS. */
  readonly secure: boolean;
  private readonly credentials: ServerCredentials;
  private readonly logger: Logger;
  private allowListed: string[] = [];
  private shuttingDown: Promise<void> | undefined;

  constructor(private readonly opts: GrpcServerOptions) {
    this.credentials = serverCredentials(opts.appEnv, opts.tls);
    this.secure = opts.tls.enabled;
    this.logger = opts.logger.child({ component: 'grpc-server' });
    this.server = new Server(opts.serverOptions);
    this.health = new GrpcHealth();
    if (opts.health ?? true) this.health.addTo(this.server);
  }

  /** Registers a service (for instance a ts-proto `...Service` definition and its implementation). */
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation, opts: AddServiceOptions = {}): void {
    const methods = Object.entries(definition);
    if (methods.length === 0) throw new Error('cannot add a service without methods');
    const serviceName = methods[0]![1].path.replace(/^\/|\/[^/]*$/g, '');

    const keyByName = new Map<string, string>();
    for (const [key, m] of methods) {
      for (const alias of [key, m.originalName, m.path.slice(m.path.lastIndexOf('/') + 1)]) if (typeof alias === 'string') keyByName.set(alias, key);
    }
    const allowByKey = new Map<string, ReadonlySet<string>>();
    let allowDefault: ReadonlySet<string> | undefined;
    for (const [name, ids] of Object.entries(opts.allow ?? {})) {
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
        throw new Error(`allow list of ${serviceName}/${name} must be an array of identities`);
      }
      if (name === '*') {
        allowDefault = new Set(ids);
        continue;
      }
      const key = keyByName.get(name);
      if (key === undefined) throw new Error(`allow list names unknown method "${name}" of ${serviceName} (methods: ${methods.map(([k]) => k).join(', ')})`);
      allowByKey.set(key, new Set(ids));
    }

    const wrapped: UntypedServiceImplementation = {};
    for (const [key, m] of methods) {
      const fn = (implementation[key] ?? (m.originalName ? implementation[m.originalName] : undefined)) as unknown;
      if (typeof fn !== 'function') continue; // grpc-js answers UNIMPLEMENTED
      const allow = allowByKey.get(key) ?? allowDefault;
      if (allow) this.allowListed.push(m.path);
      const ctx: MethodContext = {
        path: m.path,
        labels: { service: opts.service ?? this.opts.serviceLabel, method: m.path.replace(/^\//, '') },
        allow,
        enforceAllowList: this.secure,
        logger: this.logger,
        metrics: this.opts.metrics,
      };
      wrapped[key] = (m.responseStream
        ? wrapStreamHandler(ctx, fn as StreamHandler, implementation)
        : wrapCallbackHandler(ctx, fn as CallbackHandler, implementation)) as unknown as UntypedHandleCall;
    }
    this.server.addService(definition, wrapped);
    if (opts.healthName !== undefined) this.health.set(opts.healthName, 'SERVING');
  }

  /** Sets the health status of `name` (`''` for the whole server, `nova.<service>.v1` per service). */
  setServing(name: string, serving: boolean): void {
    this.health.set(name, serving ? 'SERVING' : 'NOT_SERVING');
  }

  /** Reports every health name NOT_SERVING (the first step of a shutdown; {@link shutdown} does it too). */
  setAllNotServing(): void {
    this.health.setAll('NOT_SERVING');
  }

  /** Binds `host:port` (port 0 picks a free one), returns the bound port and reports the server SERVING. */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.credentials, (err, bound) => {
        if (err) {
          reject(err);
          return;
        }
        this.health.set(SERVER_HEALTH_NAME, 'SERVING');
        this.logger.info({ address, port: bound, tls: this.secure, mtls: this.secure && this.opts.tls.requireClientCert }, 'gRPC server listening');
        if (this.allowListed.length > 0 && !this.secure) {
          this.logger.warn({ methods: this.allowListed }, 'gRPC allow lists are not enforced without TLS (development/test only)');
        } else if (this.allowListed.length > 0 && !this.opts.tls.requireClientCert) {
          this.logger.warn({ methods: this.allowListed }, 'gRPC allow lists need GRPC_TLS_REQUIRE_CLIENT_CERT=true: callers without a certificate are refused');
        }
        resolve(bound);
      });
    });
  }

  /**
   * Reports every health name NOT_SERVING, stops accepting calls and waits for running ones; after
   * `graceMs` the remaining calls (and Watch streams) are cancelled.
   */
  shutdown(graceMs = 10_000): Promise<void> {
    this.shuttingDown ??= new Promise<void>((resolve) => {
      this.health.setAll('NOT_SERVING');
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.logger.warn({ graceMs }, 'gRPC calls still running after the grace period; cancelling them');
        this.server.forceShutdown();
        finish();
      }, graceMs);
      this.server.tryShutdown(() => finish());
    });
    return this.shuttingDown;
  }
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  return new GrpcServer(opts);
}

/**
 * Adapts a promise-returning function to a grpc-js unary handler, e.g. for a ts-proto `...Server`
 * implementation: `getEvent: unary(async (req) => ({ event: await load(req.id) }))`. A thrown AppError
 * reaches the caller as its gRPC status (typed callbacks do not accept AppErrors, throwing does).
 */
export function unary<Req, Res>(fn: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => (callback as (err: unknown) => void)(err ?? new Error('handler rejected')),
      );
  };
}

/** Unary and client-streaming handlers: `(call, callback)`, possibly async. */
function wrapCallbackHandler(ctx: MethodContext, fn: CallbackHandler, self: object): CallbackHandler {
  return (call, callback) => {
    const record = startRecording(ctx, call);
    let settled = false;
    const reply: Reply = (err, value, trailer, flags) => {
      if (settled) return;
      settled = true;
      if (err) {
        const status = failureStatus(ctx, err);
        if (trailer) status.metadata.merge(trailer);
        record(status.code);
        callback(status);
        return;
      }
      record(GrpcStatus.OK);
      callback(null, value, trailer, flags);
    };
    const denied = authorize(ctx, call);
    if (denied) return reply(denied);
    try {
      const result = fn.call(self, call, reply);
      if (isThenable(result)) result.then(undefined, (err: unknown) => reply(err ?? new Error('handler rejected')));
    } catch (err) {
      reply(err ?? new Error('handler threw'));
    }
  };
}

/** Server-streaming and bidi handlers: `(call)`, ending the stream or emitting 'error', possibly async. */
function wrapStreamHandler(ctx: MethodContext, fn: StreamHandler, self: object): StreamHandler {
  return (call) => {
    const record = startRecording(ctx, call);
    const emit = call.emit.bind(call);
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      const status = failureStatus(ctx, err ?? new Error('handler failed'));
      record(status.code);
      emit('error', status);
    };
    // grpc-js turns an 'error' event into the stream's status: route it through the error mapping first.
    call.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'error') {
        fail(args[0]);
        return true;
      }
      return emit(event, ...args);
    }) as typeof call.emit;
    call.once('finish', () => record(GrpcStatus.OK));
    const denied = authorize(ctx, call);
    if (denied) return fail(denied);
    try {
      const result = fn.call(self, call);
      if (isThenable(result)) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  };
}

function authorize(ctx: MethodContext, call: CallWithAuthContext): AppError | undefined {
  if (!ctx.allow || !ctx.enforceAllowList) return undefined;
  const ids = callerIdentities(call);
  if (ids.length === 0) {
    ctx.logger.warn({ method: ctx.path }, 'gRPC call without a verified client certificate refused');
    return new AppError('UNAUTHENTICATED', 'a verified client certificate is required');
  }
  if (ctx.allow.has('*') || ids.some((id) => ctx.allow!.has(id))) return undefined;
  ctx.logger.warn({ method: ctx.path, caller: ids }, 'gRPC caller not on the allow list refused');
  return new AppError('FORBIDDEN', `${ids[0]} may not call ${ctx.path}`);
}

function failureStatus(ctx: MethodContext, err: unknown): StatusObject {
  const { error, unexpected } = toServerAppError(err);
  if (unexpected) ctx.logger.error({ err, method: ctx.path }, 'gRPC handler failed');
  else if (error.isServerError) ctx.logger.warn({ err: error, code: error.code, method: ctx.path }, 'gRPC call failed');
  return appErrorToStatus(error);
}

/** Returns `record(code)`, which feeds the request metrics once per call (a cancelled call records itself). */
function startRecording(ctx: MethodContext, call: SurfaceCall): (code: number) => void {
  const started = performance.now();
  let recorded = false;
  const record = (code: number) => {
    if (recorded) return;
    recorded = true;
    const labels = { ...ctx.labels, code: grpcStatusName(code) };
    ctx.metrics.grpcRequests.inc(labels);
    ctx.metrics.grpcDuration.observe(labels, (performance.now() - started) / 1_000);
  };
  call.once('cancelled', () => {
    const deadline = call.getDeadline();
    const expired = Number(deadline instanceof Date ? deadline.getTime() : deadline) <= Date.now();
    record(expired ? GrpcStatus.DEADLINE_EXCEEDED : GrpcStatus.CANCELLED);
  });
  return record;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
