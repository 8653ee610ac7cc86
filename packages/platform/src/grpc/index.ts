export * from './client.js';
export * from './dev-certs.js';
export * from './health.js';
export * from './identity.js';
export * from './server.js';
export * from './status.js';
export * from './tls.js';
