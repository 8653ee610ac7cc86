export * from './pool.js';
export * from './budget.js';
export * from './migrate.js';
export * from './event-tables.js';
export * from './cursor.js';
export { sql, type Kysely, type Transaction, type ColumnType, type Selectable, type Insertable } from 'kysely';
