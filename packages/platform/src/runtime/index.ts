export * from './services.js';
export * from './service.js';
export * from './dependencies.js';
export * from './grpc-wiring.js';
export * from './runner.js';
export * from './task.js';
