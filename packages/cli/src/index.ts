export * from './commands.js';
export * from './registry.js';
export * from './docs.js';
