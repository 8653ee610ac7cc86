export * from './spec.js';
export * from './source.js';
export * from './read.js';
export * from './platform.js';
