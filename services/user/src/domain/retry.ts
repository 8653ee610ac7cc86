/** PostgreSQL's deadlock_detected and serialization_failure: the transaction did nothing and may be run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs a transaction again (up to `attempts` times in all) when PostgreSQL aborted it as a deadlock victim or
 * a serialization failure, which can happen when it locks rows another transaction locks in another order.
 */
export async function withDeadlockRetry<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= attempts || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}
