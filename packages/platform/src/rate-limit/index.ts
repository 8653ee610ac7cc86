export * from './presets.js';
export * from './client-ip.js';
export * from './limiter.js';
export * from './fastify.js';
export * from './bench.js';
