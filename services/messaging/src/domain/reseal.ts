import type { AppContext } from '../context.js';
import * as mq from '../db/queries/messages.js';

const BATCH = 200;

/**
 * After a key rotation (MESSAGING_ENCRYPTION_KEY new, the old one in MESSAGING_ENCRYPTION_KEY_PREVIOUS),
 * re-seals every body and its search terms under the current key in the background, batch after batch
 * (rows claimed with SKIP LOCKED, so every replica may run it). Logs when nothing is left: then the
 * previous key can be removed from the configuration.
 */
export function resealer(ctx: AppContext, opts: { intervalMs: number }) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let done = false;

  const tick = async (): Promise<number> => {
    const moved = await ctx.db.transaction().execute(async (tx) => {
      const rows = await mq.staleSealed(tx, ctx.cipher.currentKeyId, BATCH);
      for (const r of rows) await mq.updateBody(tx, r.id, ctx.cipher.seal(r.id, ctx.cipher.open(r.id, r.body_sealed!)), false);
      // Kept versions of edited messages (sealed with their own id as AAD); their search terms are not kept.
      const edits = await mq.staleEdits(tx, ctx.cipher.currentKeyId, BATCH - rows.length);
      for (const e of edits) {
        const { body_sealed, body_key_id } = ctx.cipher.seal(e.id, ctx.cipher.open(e.id, e.body_sealed!));
        await mq.resealEdit(tx, e.id, { body_sealed, body_key_id });
      }
      return rows.length + edits.length;
    });
    if (moved > 0) ctx.logger.info({ resealed: moved, remaining: await mq.countStale(ctx.db, ctx.cipher.currentKeyId) }, 'message bodies re-sealed under the current key');
    else if (!done) {
      done = true;
      ctx.logger.info({ key_id: ctx.cipher.currentKeyId }, 'every message body is sealed with the current key: MESSAGING_ENCRYPTION_KEY_PREVIOUS may be removed');
    }
    return moved;
  };

  return {
    /** Runs only when a previous key is configured (otherwise there is nothing it could open). */
    start(): void {
      if (ctx.cipher.box.keyIds.length < 2) return;
      const loop = () => {
        running = tick()
          .catch((err: unknown) => {
            ctx.logger.warn({ err }, 'message re-seal failed; retrying');
            return 0;
          })
          // A full batch means more are waiting: go on at once; otherwise look again later.
          .then((moved) => {
            if (!done) timer = setTimeout(loop, moved === BATCH ? 0 : opts.intervalMs);
          });
      };
      loop();
    },
    async stop(): Promise<void> {
      done = true;
      clearTimeout(timer);
      await running;
    },
    /** One batch now (tests). */
    tick,
  };
}
