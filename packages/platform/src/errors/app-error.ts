import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * Every error a client can see has a stable code. The table below is the only place codes are mapped to
 * HTTP and gRPC statuses; services add codes by name, never a status.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_REQUEST: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  INVALID_CREDENTIALS: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  TOTP_REQUIRED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  TOKEN_REUSED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  FORBIDDEN: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  METHOD_NOT_ALLOWED: { http: 405, grpc: GrpcStatus.UNIMPLEMENTED },
  CONFLICT: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS },
  GONE: { http: 410, grpc: GrpcStatus.NOT_FOUND },
  ACCOUNT_LOCKED: { http: 423, grpc: GrpcStatus.FAILED_PRECONDITION },
  PRECONDITION_FAILED: { http: 412, grpc: GrpcStatus.FAILED_PRECONDITION },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.INVALID_ARGUMENT },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, grpc: GrpcStatus.INVALID_ARGUMENT },
  RATE_LIMITED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
  NOT_IMPLEMENTED: { http: 501, grpc: GrpcStatus.UNIMPLEMENTED },
  DEPENDENCY_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  RATE_LIMITER_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  CIRCUIT_OPEN: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  SHUTTING_DOWN: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  DEADLINE_EXCEEDED: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Extra response headers (for example Retry-After). */
  headers?: Record<string, string>;
}

export class AppError extends Error {
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.details = opts.details;
    this.headers = opts.headers;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_CODES[this.code].grpc;
  }

  /** True for server-side failures whose message must not reach the caller. */
  get isServerError(): boolean {
    return this.httpStatus >= 500;
  }
}

export const errors = {
  validation: (message: string, details?: Record<string, unknown>) => new AppError('VALIDATION_FAILED', message, details ? { details } : {}),
  unauthenticated: (message = 'authentication required') => new AppError('UNAUTHENTICATED', message),
  forbidden: (message = 'not allowed') => new AppError('FORBIDDEN', message),
  notFound: (what: string) => new AppError('NOT_FOUND', `${what} not found`),
  conflict: (message: string) => new AppError('CONFLICT', message),
  unavailable: (dependency: string, cause?: unknown) =>
    new AppError('DEPENDENCY_UNAVAILABLE', `${dependency} is unavailable`, { cause, details: { dependency } }),
};

/** Public message for a server error: fixed per code, never the internal message. */
export function publicMessage(err: AppError): string {
  if (!err.isServerError) return err.message;
  switch (err.code) {
    case 'DEPENDENCY_UNAVAILABLE':
    case 'CIRCUIT_OPEN':
      return 'a dependency is temporarily unavailable';
    case 'RATE_LIMITER_UNAVAILABLE':
      return 'rate limiting is unavailable; try again shortly';
    case 'SHUTTING_DOWN':
      return 'the server is shutting down';
    case 'DEADLINE_EXCEEDED':
      return 'the request took too long';
    case 'NOT_IMPLEMENTED':
      return err.message;
    default:
      return 'internal error';
  }
}

/** Details that are safe to return: only for client errors, plus the dependency name for 503s. */
export function publicDetails(err: AppError): Record<string, unknown> | undefined {
  if (!err.isServerError) return err.details;
  return undefined;
}

/** Normalises anything thrown into an AppError (unknown errors become INTERNAL, keeping the cause). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}
