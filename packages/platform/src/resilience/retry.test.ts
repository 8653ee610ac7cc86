import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors/index.js';
import { backoffDelay, isRetryable, retry } from './retry.js';

describe('backoffDelay', () => {
  it('doubles per attempt, caps at the maximum, and keeps at least half the step', () => {
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, 100, 1_000, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, 100, 1_000, () => 1))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(10, 100, 1_000, () => 1)).toBe(1_000);
    expect(backoffDelay(10, 100, 1_000, () => 0)).toBe(500);
  });
});

describe('retry', () => {
  it('returns the first success', async () => {
    const fn = vi.fn().mockRejectedValueOnce(new Error('reset')).mockResolvedValueOnce('done');
    await expect(retry(fn, { baseDelayMs: 1 })).resolves.toBe('done');
    expect(fn).toHaveBeenCalledTimes(2);
    expect(fn.mock.calls.map((c) => c[0])).toEqual([1, 2]);
  });

  it('gives up after the bounded number of attempts with the last error', async () => {
    let n = 0;
    const delays: number[] = [];
    const err = await retry(
      () => Promise.reject(new Error(`failure ${++n}`)),
      { attempts: 4, baseDelayMs: 2, maxDelayMs: 5, random: () => 1, onRetry: (_e, _a, d) => delays.push(d) },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('failure 4');
    expect(delays).toEqual([2, 4, 5]);
  });

  it('does not retry client errors or an open circuit', async () => {
    const fn = vi.fn().mockRejectedValue(new AppError('NOT_FOUND', 'nope'));
    await expect(retry(fn, { baseDelayMs: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(fn).toHaveBeenCalledTimes(1);
    expect(isRetryable(new AppError('CIRCUIT_OPEN', 'open'))).toBe(false);
    expect(isRetryable(new AppError('DEPENDENCY_UNAVAILABLE', 'down'))).toBe(true);
    expect(isRetryable(new AppError('DEADLINE_EXCEEDED', 'slow'))).toBe(true);
    expect(isRetryable(new Error('ECONNRESET'))).toBe(true);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const fn = vi.fn().mockRejectedValue(new Error('down'));
    const p = retry(fn, { attempts: 5, baseDelayMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 10);
    await expect(p).rejects.toThrow('shutting down');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('rejects a nonsensical attempt count', async () => {
    await expect(retry(() => 1, { attempts: 0 })).rejects.toThrow(RangeError);
  });
});
