import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors/index.js';
import { createMetrics, type PlatformMetrics } from '../metrics/index.js';
import { createBreaker, createBreakerRegistry, type Breaker } from './breaker.js';

const boom = () => Promise.reject(new Error('connection refused'));
const ok = () => Promise.resolve('ok');

async function gauge(metrics: PlatformMetrics, dependency: string): Promise<number | undefined> {
  const m = await metrics.circuitBreakerState.get();
  return m.values.find((v) => v.labels.dependency === dependency)?.value;
}

async function failures(metrics: PlatformMetrics, dependency: string): Promise<number> {
  const m = await metrics.circuitBreakerFailures.get();
  return m.values.find((v) => v.labels.dependency === dependency)?.value ?? 0;
}

async function failTimes(breaker: Breaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.execute(boom)).rejects.toThrow('connection refused');
}

describe('createBreaker', () => {
  let metrics: PlatformMetrics;

  beforeEach(() => {
    metrics = createMetrics({ defaultMetrics: false });
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts closed and reports 0 on the gauge', async () => {
    const breaker = createBreaker({ dependency: 'auth', metrics });
    expect(breaker.state).toBe('closed');
    expect(await gauge(metrics, 'auth')).toBe(0);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('opens after 5 consecutive failures, then fails fast with CIRCUIT_OPEN without calling the function', async () => {
    const breaker = createBreaker({ dependency: 'auth', metrics });
    await failTimes(breaker, 4);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(await gauge(metrics, 'auth')).toBe(1);
    expect(await failures(metrics, 'auth')).toBe(5);

    const fn = vi.fn(ok);
    const err = await breaker.execute(fn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CIRCUIT_OPEN');
    expect((err as AppError).details).toEqual({ dependency: 'auth' });
    expect(fn).not.toHaveBeenCalled();
    // Refused calls are not failures of the dependency.
    expect(await failures(metrics, 'auth')).toBe(5);
  });

  it('a success in between resets the consecutive count', async () => {
    const breaker = createBreaker({ dependency: 'user', metrics });
    await failTimes(breaker, 4);
    await breaker.execute(ok);
    await failTimes(breaker, 4);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('stays open for 30 s by default, half-opens for a trial call, and closes when it succeeds', async () => {
    const breaker = createBreaker({ dependency: 'feed', metrics });
    await failTimes(breaker, 5);
    vi.advanceTimersByTime(29_999);
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });

    vi.advanceTimersByTime(1);
    let release!: (v: string) => void;
    const trial = breaker.execute(() => new Promise<string>((r) => (release = r)));
    expect(breaker.state).toBe('half-open');
    expect(await gauge(metrics, 'feed')).toBe(2);
    release('recovered');
    await expect(trial).resolves.toBe('recovered');
    expect(breaker.state).toBe('closed');
    expect(await gauge(metrics, 'feed')).toBe(0);
  });

  it('re-opens when the half-open trial fails', async () => {
    const breaker = createBreaker({ dependency: 'media', metrics, threshold: 2, halfOpenAfterMs: 1_000 });
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1_000);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(await gauge(metrics, 'media')).toBe(1);
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(await failures(metrics, 'media')).toBe(3);
  });

  it('does not count client errors: they pass through and reset the count', async () => {
    const breaker = createBreaker({ dependency: 'content', metrics, threshold: 2 });
    const notFound = () => Promise.reject(new AppError('NOT_FOUND', 'post not found'));
    for (let i = 0; i < 5; i++) await expect(breaker.execute(notFound)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(breaker.state).toBe('closed');
    expect(await failures(metrics, 'content')).toBe(0);

    await failTimes(breaker, 1);
    await expect(breaker.execute(notFound)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('closed');
  });

  it('a non-failure during the half-open trial closes the circuit', async () => {
    const breaker = createBreaker({ dependency: 'search', metrics, threshold: 1, halfOpenAfterMs: 10 });
    await failTimes(breaker, 1);
    vi.advanceTimersByTime(10);
    await expect(breaker.execute(() => Promise.reject(new AppError('VALIDATION_FAILED', 'bad query')))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(breaker.state).toBe('closed');
  });

  it('honours a per-call failure predicate', async () => {
    const breaker = createBreaker({ dependency: 'video', metrics, threshold: 1 });
    const transient = Object.assign(new Error('busy'), { retryable: true });
    await expect(breaker.execute(() => Promise.reject(new Error('ignored')), { isFailure: (e) => (e as { retryable?: boolean }).retryable === true })).rejects.toThrow('ignored');
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(() => Promise.reject(transient), { isFailure: (e) => (e as { retryable?: boolean }).retryable === true })).rejects.toThrow('busy');
    expect(breaker.state).toBe('open');
  });

  it('rejects nonsensical options', () => {
    expect(() => createBreaker({ dependency: 'x', metrics, threshold: 0 })).toThrow(RangeError);
    expect(() => createBreaker({ dependency: 'x', metrics, halfOpenAfterMs: -1 })).toThrow(RangeError);
  });

  it('exposes both series in the Prometheus output', async () => {
    const breaker = createBreaker({ dependency: 'notification', metrics, threshold: 1 });
    await failTimes(breaker, 1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('circuit_breaker_state{dependency="notification"} 1');
    expect(text).toContain('circuit_breaker_failures_total{dependency="notification"} 1');
  });
});

describe('createBreakerRegistry', () => {
  it('hands out one breaker per dependency', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const breakers = createBreakerRegistry({ metrics, threshold: 1 });
    expect(breakers.get('auth')).toBe(breakers.get('auth'));
    expect(breakers.get('auth')).not.toBe(breakers.get('user'));
    await expect(breakers.get('auth').execute(boom)).rejects.toThrow();
    expect(breakers.get('auth').state).toBe('open');
    expect(breakers.get('user').state).toBe('closed');
  });
});
