import { AppError } from '../errors/index.js';

/**
 * Settles with `work`, or rejects with `AppError('DEADLINE_EXCEEDED')` after `ms`. When `work` is a
 * function it receives a signal that is aborted at the deadline, so it can stop what it started (an HTTP
 * request, a query); a bare promise cannot be stopped, only no longer waited for.
 *
 * @param what names the operation in the error message and details, e.g. `"redis GET"`.
 */
export function withTimeout<T>(work: PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T> | T), ms: number, what: string): Promise<T> {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`timeout must be a finite number >= 0, got ${ms}`);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new AppError('DEADLINE_EXCEEDED', `${what} timed out after ${ms} ms`, { details: { what, timeoutMs: ms } });
      controller.abort(err);
      reject(err);
    }, ms);
  });
  let running: PromiseLike<T>;
  try {
    running = typeof work === 'function' ? Promise.resolve(work(controller.signal)) : work;
  } catch (err) {
    clearTimeout(timer);
    return Promise.reject(err);
  }
  return Promise.race([running, deadline]).finally(() => clearTimeout(timer));
}
