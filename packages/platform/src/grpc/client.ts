import {
  InterceptingCall,
  Metadata,
  status as GrpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientUnaryCall,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import type { AppEnv } from '../config/platform.js';
import { AppError } from '../errors/index.js';
import type { Breaker } from '../resilience/index.js';
import { appErrorFromGrpc, isGrpcStatusError } from './status.js';
import { channelCredentials, type ClientTlsOptions } from './tls.js';

export const DEFAULT_DEADLINE_MS = 10_000;

/** Statuses that say the dependency is unwell, and so count against its circuit breaker. */
export const BREAKER_FAILURE_STATUSES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.RESOURCE_EXHAUSTED,
]);

export function isBreakerFailure(err: unknown): boolean {
  return isGrpcStatusError(err) && BREAKER_FAILURE_STATUSES.has(err.code);
}

export interface ChannelSettingsOptions {
  /** `host:port` of the server. */
  target: string;
  appEnv: AppEnv;
  tls: ClientTlsOptions;
  /** Deadline of every call that sets none (default 10 s). */
  deadlineMs?: number;
  /**
   * Deadlines by method: the full path (`/nova.user.v1.UserService/GetUser`), the .proto name (`GetUser`) or
   * the ts-proto client name (`getUser`).
   */
  perMethodDeadlineMs?: Readonly<Record<string, number>>;
  /** Extra grpc-js channel options; their interceptors run after the deadline interceptor. */
  channelOptions?: Partial<ClientOptions>;
}

export interface ChannelSettings {
  address: string;
  credentials: ChannelCredentials;
  options: Partial<ClientOptions>;
}

/**
 * What a generated client constructor needs — `new FooServiceClient(s.address, s.credentials, s.options)` —
 * with TLS by Nova's rule (plaintext only in development/test), the expected server name when set, and
 * the deadline interceptor.
 */
export function channelSettings(opts: ChannelSettingsOptions): ChannelSettings {
  const credentials = channelCredentials(opts.appEnv, opts.tls);
  const options: Partial<ClientOptions> = { ...opts.channelOptions };
  if (opts.tls.enabled && opts.tls.domainName) {
    options['grpc.ssl_target_name_override'] = opts.tls.domainName;
    options['grpc.default_authority'] = opts.tls.domainName;
  }
  options.interceptors = [deadlineInterceptor(opts.deadlineMs ?? DEFAULT_DEADLINE_MS, opts.perMethodDeadlineMs), ...(opts.channelOptions?.interceptors ?? [])];
  return { address: opts.target, credentials, options };
}

/** A client interceptor giving every call without a deadline one `defaultMs` (or its method's) from now. */
export function deadlineInterceptor(defaultMs: number, perMethodMs: Readonly<Record<string, number>> = {}): Interceptor {
  for (const [name, ms] of [['default', defaultMs] as const, ...Object.entries(perMethodMs)]) {
    if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`gRPC deadline for ${name} must be a positive number of ms, got ${ms}`);
  }
  const byPath = new Map<string, number>();
  const lookup = (path: string): number => {
    let ms = byPath.get(path);
    if (ms === undefined) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      const lowerFirst = name.charAt(0).toLowerCase() + name.slice(1);
      ms = perMethodMs[path] ?? perMethodMs[name] ?? perMethodMs[lowerFirst] ?? defaultMs;
      byPath.set(path, ms);
    }
    return ms;
  };
  return (options, nextCall) => {
    if (options.deadline === undefined) options = { ...options, deadline: Date.now() + lookup(options.method_definition.path) };
    return new InterceptingCall(nextCall(options));
  };
}

/**
 * The last overload of a ts-proto (grpc-js) unary client method:
 * `(request, metadata, options, callback) => ClientUnaryCall`.
 */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface UnaryCallOptions {
  metadata?: Metadata;
  /** Deadline of this call, overriding the channel's. */
  deadlineMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

export type ClientConstructor<C extends Client> = new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>) => C;

export interface GrpcClientOptions extends ChannelSettingsOptions {
  /** The circuit breaker of this dependency; its `dependency` names the callee in errors. */
  breaker: Breaker;
}

/**
 * A generated client (`stub`) plus `call`, which runs unary calls through the dependency's circuit breaker
 * and turns failures into AppErrors.
 */
export class GrpcClient<C extends Client> {
  constructor(
    readonly stub: C,
    readonly breaker: Breaker,
  ) {}

  get dependency(): string {
    return this.breaker.dependency;
  }

  /**
   * Calls a unary method of `stub` — `client.call(client.stub.getUser, { id })`; the method is invoked on
   * the stub, so it need not be bound. Resolves with the response; rejects with an AppError: the callee's
   * code from `nova-error-code` (or one derived from the status), DEPENDENCY_UNAVAILABLE or
   * DEADLINE_EXCEEDED from the transport, CIRCUIT_OPEN without calling while the breaker is open.
   */
  async call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, opts: UnaryCallOptions = {}): Promise<Res> {
    try {
      return await this.breaker.execute((signal) => this.invoke(method, request, opts, signal), { isFailure: isBreakerFailure, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isGrpcStatusError(err)) throw appErrorFromGrpc(err, this.dependency);
      throw err;
    }
  }

  /** Closes the channel. */
  close(): void {
    this.stub.close();
  }

  private invoke<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, opts: UnaryCallOptions, signal: AbortSignal): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const callOptions: Partial<CallOptions> = opts.deadlineMs !== undefined ? { deadline: Date.now() + opts.deadlineMs } : {};
      const onAbort = () => call.cancel();
      const call = method.call(this.stub, request, opts.metadata ?? new Metadata(), callOptions, (err, response) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(response);
      });
      if (signal.aborted) call.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Builds a generated client (`new Ctor(address, credentials, options)`) by {@link channelSettings} and wraps it. */
export function createGrpcClient<C extends Client>(Ctor: ClientConstructor<C>, opts: GrpcClientOptions): GrpcClient<C> {
  const s = channelSettings(opts);
  return new GrpcClient(new Ctor(s.address, s.credentials, s.options), opts.breaker);
}
