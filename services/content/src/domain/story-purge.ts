import type { Logger } from '@nova/platform';
import type { AppContext } from '../context.js';
import { purgeExpired } from '../db/queries/stories.js';

/** Most stories one purge statement marks. */
const BATCH = 500;

export interface StoryPurge {
  start(): void;
  stop(): Promise<void>;
  /** One full pass (batches until none is left); returns how many stories it purged. */
  runOnce(): Promise<number>;
}

/**
 * The background job that soft-deletes stories past their expiry (deleted_at = now(), deleted_by NULL: the
 * system did it, not a person). Reads never needed it: every read already hides expired stories; the purge
 * makes expiry durable in the row and keeps the live-story indexes small. Replicas may run it side by side
 * (FOR UPDATE SKIP LOCKED); a failed pass is logged and retried on the next tick.
 */
export function storyPurge(ctx: Pick<AppContext, 'db'> & { logger: Logger }, opts: { intervalMs: number }): StoryPurge {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = true;

  const pass = async (interrupted: () => boolean): Promise<number> => {
    let total = 0;
    for (;;) {
      const ids = await purgeExpired(ctx.db, BATCH);
      total += ids.length;
      if (ids.length < BATCH || interrupted()) break;
    }
    if (total > 0) ctx.logger.info({ purged: total }, 'expired stories purged');
    return total;
  };

  const tick = () => {
    running = pass(() => stopped)
      .catch((err: unknown) => {
        ctx.logger.warn({ err }, 'story purge failed; retrying on the next tick');
        return 0;
      })
      .finally(() => {
        running = undefined;
        if (!stopped) {
          timer = setTimeout(tick, opts.intervalMs);
          timer.unref();
        }
      });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(tick, opts.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce: () => pass(() => false),
  };
}
