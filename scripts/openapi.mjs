// Writes docs/openapi.json: starts every service in-process (against the configured PostgreSQL, Redis and
// NATS, on free ports) and saves what GET /openapi.json serves. A test fails when the copy is stale.
import { writeFileSync } from 'node:fs';
import { up } from '../packages/cli/dist/index.js';

const platform = await up({ ...process.env, HTTP_PORT: '0', GRPC_PORT: '0', LOG_LEVEL: 'warn' });
try {
  const res = await fetch(`http://127.0.0.1:${platform.httpPort}/openapi.json`);
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
  const doc = await res.json();
  writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
  console.log('docs/openapi.json written');
} finally {
  await platform.stop();
}
