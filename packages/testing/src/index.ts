export * from './test-env.js';
export * from './token-issuer.js';
export * from './platform-harness.js';
