export * from './config/index.js';
export * from './errors/index.js';
export * from './ids/index.js';
export * from './logging/index.js';
export * from './metrics/index.js';
export * from './db/index.js';
export * from './redis/index.js';
export * from './runtime/services.js';
