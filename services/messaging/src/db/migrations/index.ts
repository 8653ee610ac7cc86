import type { Migration } from '@nova/platform';
import * as m0001 from './0001-event-tables.js';
import * as m0002 from './0002-messaging.js';
import * as m0003 from './0003-requests-history-fulltext.js';
import * as m0004 from './0004-e2ee.js';

/** Ordered migrations of the `messaging` schema. Never edit one that has shipped; add the next. */
export const migrations: Record<string, Migration> = {
  '0001-event-tables': m0001,
  '0002-messaging': m0002,
  '0003-requests-history-fulltext': m0003,
  '0004-e2ee': m0004,
};
