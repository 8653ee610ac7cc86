/** The verified caller (`identity`) and the request's correlation id (`requestMeta`), from the platform. */
export { requireIdentity as identity, requestMeta } from '@nova/platform';
