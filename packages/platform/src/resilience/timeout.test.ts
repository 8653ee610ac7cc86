import { describe, expect, it } from 'vitest';
import { AppError, publicMessage } from '../errors/index.js';
import { withTimeout } from './timeout.js';

describe('withTimeout', () => {
  it('returns the result when the work finishes in time', async () => {
    await expect(withTimeout(Promise.resolve(42), 100, 'answer')).resolves.toBe(42);
    await expect(withTimeout(async () => 'fn', 100, 'answer')).resolves.toBe('fn');
  });

  it('passes through the work\'s own error', async () => {
    await expect(withTimeout(Promise.reject(new Error('broken')), 100, 'thing')).rejects.toThrow('broken');
    await expect(withTimeout(() => { throw new Error('sync'); }, 100, 'thing')).rejects.toThrow('sync');
  });

  it('rejects with DEADLINE_EXCEEDED naming the operation, and aborts the work\'s signal', async () => {
    let seen: AbortSignal | undefined;
    const err = await withTimeout((signal) => { seen = signal; return new Promise(() => {}); }, 20, 'redis GET').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('DEADLINE_EXCEEDED');
    expect((err as AppError).message).toBe('redis GET timed out after 20 ms');
    expect(publicMessage(err as AppError)).toBe('the request took too long');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(err);
  });
});
