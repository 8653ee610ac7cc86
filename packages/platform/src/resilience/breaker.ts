import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { PlatformMetrics } from '../metrics/index.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Values of the `circuit_breaker_state` gauge. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, 'half-open': 2 };

export type FailurePredicate = (err: unknown) => boolean;

export interface BreakerOptions {
  /** Label of the dependency (`circuit_breaker_*{dependency}`), e.g. `auth` or `redis`. */
  dependency: string;
  metrics: PlatformMetrics;
  /** Consecutive counted failures that open the circuit (default 5). */
  threshold?: number;
  /** How long the circuit stays open before a trial call is let through (default 30 s). */
  halfOpenAfterMs?: number;
  /** Which errors count as failures of the dependency (default: {@link isDependencyFailure}). */
  isFailure?: FailurePredicate;
  /** Receives a line on every state change. */
  logger?: Logger;
}

export interface ExecuteOptions {
  /** Overrides the breaker's failure predicate for this call. */
  isFailure?: FailurePredicate;
  /** Cancels the call; `fn` receives a signal that follows it. */
  signal?: AbortSignal;
}

export interface Breaker {
  readonly dependency: string;
  readonly state: BreakerState;
  /**
   * Runs `fn` through the circuit. While the circuit is open this throws `AppError('CIRCUIT_OPEN')` at once
   * without calling `fn`; otherwise it returns or throws whatever `fn` does.
   */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, opts?: ExecuteOptions): Promise<T>;
}

/**
 * Default failure predicate: anything that is not an AppError, and AppErrors that are the server's fault
 * (5xx). A client error such as NOT_FOUND proves the dependency answered, so it counts as a success.
 */
export function isDependencyFailure(err: unknown): boolean {
  return !(err instanceof AppError) || err.isServerError;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * A circuit breaker for one dependency, on cockatiel's ConsecutiveBreaker: closed → open after `threshold`
 * consecutive counted failures → half-open once `halfOpenAfterMs` have passed → closed when the trial call
 * succeeds (or open again when it fails). As in cockatiel, the move to half-open happens when the first call
 * arrives after the wait, so `state` and the gauge read `open` until then.
 *
 * Errors that do not count as failures (see `isFailure`) are passed through to the caller but reset the
 * consecutive count, like a success: the dependency did answer.
 */
export function createBreaker(opts: BreakerOptions): Breaker {
  const { dependency, metrics } = opts;
  const threshold = opts.threshold ?? 5;
  const halfOpenAfterMs = opts.halfOpenAfterMs ?? 30_000;
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`breaker threshold must be a positive integer, got ${threshold}`);
  if (!(halfOpenAfterMs >= 0)) throw new RangeError(`breaker halfOpenAfterMs must be >= 0, got ${halfOpenAfterMs}`);
  const defaultIsFailure = opts.isFailure ?? isDependencyFailure;

  const policy: CircuitBreakerPolicy = circuitBreaker(handleAll, { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(threshold) });
  const labels = { dependency };
  metrics.circuitBreakerState.set(labels, BREAKER_STATE_VALUE.closed);
  policy.onStateChange((s) => {
    const state = toBreakerState(s);
    metrics.circuitBreakerState.set(labels, BREAKER_STATE_VALUE[state]);
    if (state === 'open') opts.logger?.warn({ dependency, halfOpenAfterMs }, 'circuit breaker opened');
    else opts.logger?.info({ dependency }, `circuit breaker ${state}`);
  });

  return {
    dependency,
    get state() {
      return toBreakerState(policy.state);
    },
    async execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, callOpts: ExecuteOptions = {}): Promise<T> {
      const isFailure = callOpts.isFailure ?? defaultIsFailure;
      let outcome: Outcome<T>;
      try {
        outcome = await policy.execute(async ({ signal }): Promise<Outcome<T>> => {
          try {
            return { ok: true, value: await fn(signal) };
          } catch (error) {
            if (!isFailure(error)) return { ok: false, error };
            metrics.circuitBreakerFailures.inc(labels);
            throw error;
          }
        }, callOpts.signal);
      } catch (err) {
        if (err instanceof BrokenCircuitError) {
          throw new AppError('CIRCUIT_OPEN', `circuit for ${dependency} is open`, { cause: err, details: { dependency } });
        }
        throw err;
      }
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    },
  };
}

function toBreakerState(s: CircuitState): BreakerState {
  switch (s) {
    case CircuitState.Closed:
      return 'closed';
    case CircuitState.HalfOpen:
      return 'half-open';
    default:
      // Open, and Isolated (held open by hand): calls are refused either way.
      return 'open';
  }
}

export interface BreakerRegistry {
  /** The breaker of `dependency`, created on first use with the registry's defaults. */
  get(dependency: string): Breaker;
}

/** One breaker per dependency name, so every client of a dependency shares its circuit (and its gauge). */
export function createBreakerRegistry(defaults: Omit<BreakerOptions, 'dependency'>): BreakerRegistry {
  const breakers = new Map<string, Breaker>();
  return {
    get(dependency) {
      let b = breakers.get(dependency);
      if (!b) {
        b = createBreaker({ ...defaults, dependency });
        breakers.set(dependency, b);
      }
      return b;
    },
  };
}
