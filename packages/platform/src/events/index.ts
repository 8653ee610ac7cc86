export * from './envelope.js';
export * from './naming.js';
export * from './nats.js';
export * from './outbox.js';
export * from './outbox-status.js';
export * from './relay.js';
export * from './consumer.js';
