export * from './breaker.js';
export * from './retry.js';
export * from './timeout.js';
