import type { Migration } from '@nova/platform';
import * as m0001 from './0001-event-tables.js';

/** Ordered migrations of the `notification` schema. Never edit one that has shipped; add the next. */
export const migrations: Record<string, Migration> = {
  '0001-event-tables': m0001,
};
