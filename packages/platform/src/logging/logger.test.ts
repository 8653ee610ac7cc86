import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createHttpApp, createLogger, createMetrics, redactUrl } from '../index.js';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('logging', () => {
  it('redacts passwords, tokens and authorization headers', () => {
    const { logger, lines } = memoryLogger();
    logger.info({ password: 'hunter2', body: { refresh_token: 'rt-secret', new_password: 'n3w' }, headers: { authorization: 'Bearer abc' } }, 'login');
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'rt-secret', 'n3w', 'Bearer abc']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'login', password: '[redacted]' });
  });

  it('writes one request line with request id, correlation id and route template', async () => {
    const { logger, lines } = memoryLogger();
    const app = await createHttpApp({ logger, metrics: createMetrics({ defaultMetrics: false }), trustedProxies: [], readiness: new Map() });
    app.get('/api/v1/things/:id', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/api/v1/things/42?token=abc', headers: { 'x-request-id': 'req-1', 'x-correlation-id': 'corr-1', authorization: 'Bearer sekrit' } });
    const line = lines.find((l) => l.msg === 'request');
    expect(line).toMatchObject({ req_id: 'req-1', correlation_id: 'corr-1', method: 'GET', route: '/api/v1/things/:id', status: 200 });
    expect(JSON.stringify(lines)).not.toContain('sekrit');
  });

  it('hides the password of a connection string', () => {
    expect(redactUrl('postgres://nova:hunter2@db:5432/nova')).toBe('postgres://nova:***@db:5432/nova');
  });
});
