import { Metadata, status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { AppError, ERROR_CODES, isErrorCode, publicDetails, publicMessage, type ErrorCode } from '../errors/index.js';

/** Trailing metadata carrying the stable error code of a failed call. */
export const ERROR_CODE_METADATA_KEY = 'nova-error-code';
/** Trailing metadata carrying an error's public details as JSON (client errors only, when small). */
export const ERROR_DETAILS_METADATA_KEY = 'nova-error-details';
const MAX_DETAILS_BYTES = 2_048;

/** `OK`, `NOT_FOUND`, ... for a numeric gRPC status (the label value of `grpc_requests_total{code}`). */
export function grpcStatusName(code: number): string {
  return GrpcStatus[code] ?? `CODE_${code}`;
}

/**
 * The error code for a gRPC status that arrived without `nova-error-code` (a status produced by the
 * transport, or by a server outside Nova). Inverse of the error table where it is one-to-one.
 */
export function errorCodeForGrpcStatus(code: number): ErrorCode {
  switch (code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return 'BAD_REQUEST';
    case GrpcStatus.UNAUTHENTICATED:
      return 'UNAUTHENTICATED';
    case GrpcStatus.PERMISSION_DENIED:
      return 'FORBIDDEN';
    case GrpcStatus.NOT_FOUND:
      return 'NOT_FOUND';
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.ABORTED:
      return 'CONFLICT';
    case GrpcStatus.FAILED_PRECONDITION:
      return 'PRECONDITION_FAILED';
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 'RATE_LIMITED';
    case GrpcStatus.UNIMPLEMENTED:
      return 'NOT_IMPLEMENTED';
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.CANCELLED:
      return 'DEPENDENCY_UNAVAILABLE';
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 'DEADLINE_EXCEEDED';
    default:
      return 'INTERNAL';
  }
}

/** A status carried by something thrown or passed to a callback: grpc-js ServiceErrors and plain status objects. */
export function isGrpcStatusError(err: unknown): err is Partial<ServiceError> & { code: number } {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && Number.isInteger((err as { code: number }).code);
}

/**
 * Turns a failed call's status into an AppError: the code comes from `nova-error-code` when the server
 * sent one, otherwise from the gRPC status. `dependency` names the callee in messages and details.
 */
export function appErrorFromGrpc(err: Partial<ServiceError> & { code: number }, dependency?: string): AppError {
  const fromServer = firstString(err.metadata, ERROR_CODE_METADATA_KEY);
  const code = fromServer !== undefined && isErrorCode(fromServer) ? fromServer : errorCodeForGrpcStatus(err.code);
  const remoteDetails = fromServer !== undefined ? parseDetails(firstString(err.metadata, ERROR_DETAILS_METADATA_KEY)) : undefined;
  const text = err.details || err.message || grpcStatusName(err.code);
  let message = text;
  if (fromServer === undefined && dependency !== undefined) {
    // Produced by the transport (connection refused, deadline, ...) rather than by the callee's code.
    if (err.code === GrpcStatus.UNAVAILABLE) message = `${dependency} is unavailable: ${text}`;
    else if (err.code === GrpcStatus.DEADLINE_EXCEEDED) message = `call to ${dependency} exceeded its deadline`;
    else if (err.code === GrpcStatus.CANCELLED) message = `call to ${dependency} was cancelled`;
  }
  const details = ERROR_CODES[code].http >= 500 ? (dependency !== undefined ? { dependency } : undefined) : remoteDetails;
  return new AppError(code, message, { cause: err, ...(details ? { details } : {}) });
}

/** Anything a handler throws or reports, as the AppError the caller will see (unknown errors become INTERNAL). */
export function toServerAppError(err: unknown): { error: AppError; unexpected: boolean } {
  if (err instanceof AppError) return { error: err, unexpected: false };
  if (isGrpcStatusError(err) && err.code !== GrpcStatus.OK) {
    // A raw status (a handler's `{ code, details }`, or a downstream ServiceError passed on as-is).
    const error = appErrorFromGrpc(err);
    return { error, unexpected: error.code === 'INTERNAL' };
  }
  return { error: new AppError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err }), unexpected: true };
}

/**
 * The status a server sends for an AppError: its table status, its public message (a server error never
 * carries internals) and trailing metadata with the stable code, public details and headers.
 */
export function appErrorToStatus(err: AppError): StatusObject {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, err.code);
  const details = publicDetails(err);
  if (details !== undefined) {
    const json = safeJson(details);
    if (json !== undefined && Buffer.byteLength(json) <= MAX_DETAILS_BYTES) metadata.set(ERROR_DETAILS_METADATA_KEY, json);
  }
  for (const [name, value] of Object.entries(err.headers ?? {})) {
    const key = name.toLowerCase();
    if (/^[a-z0-9_.-]+$/.test(key) && !key.endsWith('-bin') && /^[\x20-\x7e]*$/.test(value)) metadata.set(key, value);
  }
  return { code: err.grpcStatus, details: publicMessage(err), metadata };
}

function firstString(metadata: Metadata | undefined, key: string): string | undefined {
  const v = metadata?.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

function parseDetails(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function safeJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}
