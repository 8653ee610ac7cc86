export * from './pool.js';
export * from './budget.js';
export * from './migrate.js';
export * from './event-tables.js';
export { sql } from 'kysely';
