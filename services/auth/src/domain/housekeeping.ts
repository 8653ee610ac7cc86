import type { AppContext } from '../context.js';
import { releaseDeleted } from '../db/queries/users.js';

const EVERY_MS = 10 * 60_000;

/**
 * Periodic work: frees the email and username of accounts deleted longer ago than the retention.
 * Idempotent, so every replica may run it.
 */
export function startHousekeeping(ctx: AppContext): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = releaseDeleted(ctx.db, ctx.config.AUTH_DELETED_RETENTION_DAYS).then(
      (n) => void (n > 0 && ctx.logger.info({ released: n }, 'released identifiers of deleted accounts')),
      (err: unknown) => ctx.logger.warn({ err }, 'housekeeping failed'),
    );
  };
  tick();
  const timer = setInterval(tick, EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
