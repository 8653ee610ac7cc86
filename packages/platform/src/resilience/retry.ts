import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors/index.js';

export interface RetryOptions {
  /** Total attempts, the first one included (default 3). */
  attempts?: number;
  /** Delay before the second attempt, doubled for each further one (default 100 ms). */
  baseDelayMs?: number;
  /** Upper bound of any delay (default 2 s). */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt (default {@link isRetryable}). */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Stops waiting and attempting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Source of randomness for the jitter (tests pin it). */
  random?: () => number;
}

/**
 * Default retry predicate: errors that are not AppErrors (network errors and the like) and server-side
 * AppErrors, except an open circuit (retrying cannot help until it half-opens) and NOT_IMPLEMENTED.
 * Client errors (validation, not found, forbidden, ...) are final.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof AppError)) return true;
  return err.isServerError && err.code !== 'CIRCUIT_OPEN' && err.code !== 'NOT_IMPLEMENTED';
}

/**
 * Delay before attempt `attempt + 1` (attempt counts from 1): exponential, capped, with "equal jitter" —
 * half the step is fixed and half random — so retries from many callers spread out without collapsing to 0.
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Runs `fn` until it succeeds, the error is not retryable, or `attempts` are used up; then rethrows the
 * last error. `fn` receives the attempt number (from 1).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T> | T, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  const baseDelayMs = opts.baseDelayMs ?? 100;
  const maxDelayMs = opts.maxDelayMs ?? 2_000;
  const shouldRetry = opts.shouldRetry ?? isRetryable;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`retry attempts must be a positive integer, got ${attempts}`);
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) throw new RangeError('retry delays must be >= 0');

  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !shouldRetry(err, attempt)) throw err;
      const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, opts.random);
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : undefined).catch((e: unknown) => {
        throw opts.signal?.aborted ? opts.signal.reason : e;
      });
    }
  }
}
