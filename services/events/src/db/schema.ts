import type { ColumnType } from '@nova/platform';

export interface ArchiveTable {
  id: string;
  type: string;
  version: number;
  source: string;
  subject: string;
  nats_subject: string;
  occurred_at: ColumnType<Date, string | Date, never>;
  correlation_id: string | null;
  data: ColumnType<unknown, string, never>;
  archived_at: ColumnType<Date, never, never>;
}

export interface EventsDb {
  archive: ArchiveTable;
}
