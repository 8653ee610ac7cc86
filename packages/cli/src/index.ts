export * from './commands.js';
export * from './registry.js';
