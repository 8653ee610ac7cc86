import type { Migration } from '@nova/platform';
import * as m0001 from './0001-event-tables.js';
import * as m0002 from './0002-feed.js';

/** Ordered migrations of the `feed` schema. Never edit one that has shipped; add the next. */
export const migrations: Record<string, Migration> = {
  '0001-event-tables': m0001,
  '0002-feed': m0002,
};
