export * from './app.js';
export { Type, type Static } from 'typebox';
export * from './route-helpers.js';
