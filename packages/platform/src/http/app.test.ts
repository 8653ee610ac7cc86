import { describe, expect, it } from 'vitest';
import { AppError, createHttpApp, createLogger, createMetrics, registerService, Type } from '../index.js';

async function makeApp(readiness = new Map<string, () => Promise<void>>()) {
  const metrics = createMetrics({ defaultMetrics: false });
  const app = await createHttpApp({ logger: createLogger({ level: 'silent' }), metrics, trustedProxies: [], readiness });
  await registerService(app, 'demo', (scope) => {
    scope.get('/api/v1/demo/items/:id', { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } }, async (req) => ({ id: req.params.id }));
    scope.post('/api/v1/demo/items', { schema: { security: [{ bearerAuth: [] }], body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 10 }) }) } }, async (req, reply) => reply.code(201).send({ name: req.body.name }));
    scope.get('/api/v1/demo/conflict', async () => {
      throw new AppError('CONFLICT', 'already there', { details: { field: 'name' } });
    });
    scope.get('/api/v1/demo/boom', async () => {
      throw new Error('connection to 10.1.2.3 failed: password authentication failed for user "nova"');
    });
    scope.get('/api/v1/demo/down', async () => {
      throw new AppError('DEPENDENCY_UNAVAILABLE', 'redis at 10.0.0.5 refused', { details: { host: '10.0.0.5' } });
    });
  });
  await app.ready();
  return { app, metrics };
}

describe('HTTP app', () => {
  it('gives every response a request id, echoing a safe incoming one', async () => {
    const { app } = await makeApp();
    const fresh = await app.inject({ method: 'GET', url: '/health' });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const unsafe = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'x\u0000y<script>' } });
    expect(unsafe.headers['x-request-id']).not.toContain('<');
  });

  it('maps AppErrors to their status with the stable code and request id', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/api/v1/demo/conflict' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: { code: 'CONFLICT', message: 'already there', request_id: res.headers['x-request-id'], details: { field: 'name' } } });
  });

  it('turns schema violations into VALIDATION_FAILED and bad JSON into BAD_REQUEST', async () => {
    const { app } = await makeApp();
    const badParam = await app.inject({ method: 'GET', url: '/api/v1/demo/items/not-a-uuid' });
    expect(badParam.statusCode).toBe(400);
    expect(badParam.json().error.code).toBe('VALIDATION_FAILED');
    const badBody = await app.inject({ method: 'POST', url: '/api/v1/demo/items', payload: { name: '' } });
    expect(badBody.json().error.code).toBe('VALIDATION_FAILED');
    expect(badBody.json().error.details.issues[0].path).toBe('/name');
    const badJson = await app.inject({ method: 'POST', url: '/api/v1/demo/items', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('BAD_REQUEST');
  });

  it('never leaks internals in a 5xx', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/api/v1/demo/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toEqual({ code: 'INTERNAL', message: 'internal error', request_id: res.headers['x-request-id'] });
    expect(res.body).not.toContain('10.1.2.3');
    const down = await app.inject({ method: 'GET', url: '/api/v1/demo/down' });
    expect(down.statusCode).toBe(503);
    expect(down.body).not.toContain('10.0.0.5');
    expect(down.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });

  it('answers unknown routes with NOT_FOUND', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/api/v1/nope?secret=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });

  it('labels metrics with the route template and owning service, never the raw path', async () => {
    const { app } = await makeApp();
    await app.inject({ method: 'GET', url: '/api/v1/demo/items/0190b4d0-0000-7000-8000-000000000001' });
    await app.inject({ method: 'GET', url: '/api/v1/demo/items/0190b4d0-0000-7000-8000-000000000002' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('http_requests_total{service="demo",method="GET",route="/api/v1/demo/items/:id",status="200"} 2');
    expect(res.body).toContain('http_request_duration_seconds_bucket{le="0.001",service="demo"');
    expect(res.body).not.toContain('0190b4d0-0000-7000-8000-000000000001');
  });

  it('reports readiness per dependency and 503 when one is down', async () => {
    const checks = new Map<string, () => Promise<void>>([
      ['postgres', async () => undefined],
      ['redis', async () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379'))],
    ]);
    const { app } = await makeApp(checks);
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', checks: { postgres: 'ok', redis: 'unavailable' } });
    checks.set('redis', async () => undefined);
    const ok = await app.inject({ method: 'GET', url: '/ready' });
    expect(ok.statusCode).toBe(200);
  });

  it('publishes route schemas in the OpenAPI document, tagged by service', async () => {
    const { app } = await makeApp();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/demo/items'].post.tags).toEqual(['demo']);
    expect(doc.paths['/api/v1/demo/items'].post.requestBody.content['application/json'].schema.properties.name.maxLength).toBe(10);
    expect(doc.paths['/api/v1/demo/items'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/health']).toBeUndefined();
  });
});
