export * from './claims.js';
export * from './verifier.js';
export * from './jwks.js';
export * from './revocations.js';
export * from './bearer.js';
export * from './http-auth.js';
export * from './grpc-auth.js';
