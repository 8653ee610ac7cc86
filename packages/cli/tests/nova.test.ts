import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, eventually, grpcHealthCheck, type TestEnv } from '@nova/testing';
import { generateDevCertificates, SERVICES, SERVICE_NAMES, StartupError, type RunningPlatform } from '@nova/platform';
import { migrate, serve, up } from '../src/commands.js';

const run = promisify(execFile);
const CLI = new URL('../dist/main.js', import.meta.url).pathname;

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

async function schemas(): Promise<string[]> {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    const res = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname NOT IN ('public', 'information_schema') ORDER BY 1");
    return res.rows.map((r) => r.nspname);
  } finally {
    await client.end();
  }
}

describe('nova up', () => {
  let platform: RunningPlatform;
  afterAll(async () => {
    await platform?.stop();
  });

  it('migrates and starts all twelve services on one HTTP and one gRPC port', async () => {
    platform = await up(env.env());
    expect(platform.services).toEqual(SERVICE_NAMES);
    expect(await schemas()).toEqual(SERVICE_NAMES.map((s) => SERVICES[s].schema).sort());

    const base = `http://127.0.0.1:${platform.httpPort}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const { checks } = (await ready.json()) as { checks: Record<string, string> };
    for (const s of SERVICE_NAMES) expect(checks[`postgres:${s}`]).toBe('ok');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const s of SERVICE_NAMES) expect(metrics).toContain(`db_pool_connections{service="${s}",state="total"}`);
    expect(metrics).toContain('http_requests_total{service="platform",method="GET",route="/health",status="200"} 1');
    const openapi = await (await fetch(`${base}/openapi.json`)).json();
    expect(openapi, 'docs/openapi.json is stale: run npm run docs:openapi').toEqual(JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8')));

    const address = `127.0.0.1:${platform.grpcPort}`;
    expect(await grpcHealthCheck(address, '')).toBe('SERVING');
    for (const s of SERVICE_NAMES) expect(await grpcHealthCheck(address, SERVICES[s].healthName)).toBe('SERVING');
    expect(await grpcHealthCheck(address, 'nova.nope.v1')).toMatch(/^NOT_FOUND/);
  });

  it('stops gracefully: ports closed, a second stop is harmless', async () => {
    const port = platform.httpPort;
    await platform.stop();
    await platform.stop();
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

describe('pool budget', () => {
  it('refuses to start `up` when the pools do not fit max_connections minus the reserve', async () => {
    const err = await up(env.env({ DB_POOL_RESERVE: '90' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/database pools need 61 connections \(auth=8, .*events=4\) but the server allows \d+ minus a reserve of 90/);
    expect((err as Error).message).toContain('DB_POOL_MAX_<SERVICE>');
  });

  it('refuses `serve` when that one service\'s pool is too large, and starts it when it fits', async () => {
    const err = await serve('events', env.env({ DB_POOL_MAX_EVENTS: '500' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/need 500 connections \(events=500\)/);
    const one = await serve('events', env.env());
    try {
      expect(one.services).toEqual(['events']);
      expect(await grpcHealthCheck(`127.0.0.1:${one.grpcPort}`, 'nova.events.v1')).toBe('SERVING');
      expect(await grpcHealthCheck(`127.0.0.1:${one.grpcPort}`, 'nova.auth.v1')).toMatch(/^NOT_FOUND/);
    } finally {
      await one.stop();
    }
  });
});

describe('TLS rules', () => {
  it('refuses to start in production without TLS, naming the settings, before touching anything', async () => {
    const fresh = await createTestEnv();
    try {
      const err = await serve('events', fresh.env({ APP_ENV: 'production' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toContain('GRPC_TLS_ENABLED');
      expect((err as Error).message).toContain('GRPC_TLS_SERVER_CERT_PATH');
      const client = new pg.Client({ connectionString: fresh.databaseUrl });
      await client.connect();
      const res = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = 'events'");
      await client.end();
      expect(res.rowCount).toBe(0);
    } finally {
      await fresh.cleanup();
    }
  });

  it('serves gRPC over mTLS in production with the dev certificates (and needs AUTH_JWKS_URL when auth runs elsewhere)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nova-certs-'));
    await generateDevCertificates(dir, { services: ['events', 'feed'] });
    const production = (extra: Record<string, string>) =>
      env.env({
        APP_ENV: 'production',
        GRPC_TLS_ENABLED: 'true',
        GRPC_TLS_CA_CERT_PATH: join(dir, 'ca.crt'),
        GRPC_TLS_SERVER_CERT_PATH: join(dir, 'server.crt'),
        GRPC_TLS_SERVER_KEY_PATH: join(dir, 'server.key'),
        ...extra,
      });
    const noJwks = await serve('events', production({})).catch((e: unknown) => e);
    expect((noJwks as Error).message).toContain('set AUTH_JWKS_URL');
    const platform = await serve(
      'events',
      env.env({
        AUTH_JWKS_URL: 'https://auth.nova.internal/.well-known/jwks.json',
        APP_ENV: 'production',
        GRPC_TLS_ENABLED: 'true',
        GRPC_TLS_CA_CERT_PATH: join(dir, 'ca.crt'),
        GRPC_TLS_SERVER_CERT_PATH: join(dir, 'server.crt'),
        GRPC_TLS_SERVER_KEY_PATH: join(dir, 'server.key'),
        GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
        GRPC_TLS_CLIENT_CERT_PATH: join(dir, 'events.crt'),
        GRPC_TLS_CLIENT_KEY_PATH: join(dir, 'events.key'),
      }),
    );
    try {
      const address = `localhost:${platform.grpcPort}`;
      const ca = readFileSync(join(dir, 'ca.crt'));
      const mtls = grpc.credentials.createSsl(ca, readFileSync(join(dir, 'feed.key')), readFileSync(join(dir, 'feed.crt')));
      expect(await grpcHealthCheck(address, 'nova.events.v1', mtls)).toBe('SERVING');
      expect(await grpcHealthCheck(address, 'nova.events.v1', grpc.credentials.createSsl(ca))).toMatch(/^UNAVAILABLE/);
      expect(await grpcHealthCheck(address, 'nova.events.v1')).toMatch(/^UNAVAILABLE/);
    } finally {
      await platform.stop();
    }
  });
});

describe('unreachable dependencies', () => {
  it.each([
    ['Redis', { REDIS_URL: 'redis://127.0.0.1:1' }, /Redis is not reachable at redis:\/\/127\.0\.0\.1:1/],
    ['NATS', { NATS_URL: 'nats://127.0.0.1:1' }, /NATS is not reachable at nats:\/\/127\.0\.0\.1:1/],
    ['PostgreSQL', { DATABASE_URL: 'postgres://nova:hunter2@127.0.0.1:1/nova' }, /PostgreSQL is not reachable at postgres:\/\/nova:\*\*\*@127\.0\.0\.1:1\/nova/],
  ])('%s: says which one and how to get it', async (_name, overrides, message) => {
    const err = await serve('events', env.env(overrides)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('scripts/dev-deps.sh');
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('the nova command', () => {
  it('creates a missing database and migrates it', async () => {
    const url = new URL(env.databaseUrl);
    url.pathname = `/${url.pathname.slice(1)}_fresh`;
    const fresh = url.toString();
    try {
      await migrate(['events', 'auth'], env.env({ DATABASE_URL: fresh }));
      const client = new pg.Client({ connectionString: fresh });
      await client.connect();
      const res = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('events', 'auth')");
      await client.end();
      expect(res.rows[0]?.n).toBe(2);
    } finally {
      const admin = new pg.Client({ connectionString: env.databaseUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${url.pathname.slice(1)} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('exits 1 with a readable message and no stack trace when production lacks TLS', async () => {
    const res = await run('node', [CLI, 'serve', 'events'], { env: { ...env.env({ APP_ENV: 'production' }), PATH: process.env.PATH } }).catch((e: { code: number; stderr: string }) => e);
    expect((res as { code: number }).code).toBe(1);
    const stderr = (res as { stderr: string }).stderr;
    expect(stderr).toMatch(/^nova: /);
    expect(stderr).toContain('GRPC_TLS_ENABLED');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('`nova certs dev` writes a CA, a server certificate and a client certificate per service', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nova-certs-')), 'certs');
    const res = await run('node', [CLI, 'certs', 'dev', '--out', out], { env: { PATH: process.env.PATH } });
    expect(res.stdout).toContain(`development certificates written to ${out}`);
    for (const f of ['ca.crt', 'server.crt', 'server.key', ...SERVICE_NAMES.flatMap((s) => [`${s}.crt`, `${s}.key`])]) {
      expect(readFileSync(join(out, f), 'utf8')).toMatch(/^-----BEGIN /);
    }
    expect(statSync(join(out, 'server.key')).mode & 0o077).toBe(0);
  });

  it('stops on SIGTERM: drains, logs "nova stopped" and exits 0', async () => {
    const child = spawn('node', [CLI, 'serve', 'events'], { env: { ...env.env({ LOG_LEVEL: 'info' }), PATH: process.env.PATH } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(() => output.includes('nova is up'), 'the service to start', 20_000);
      const port = Number(/"http":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(output)?.[1]);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('"msg":"shutting down"');
      expect(output).toContain('"msg":"nova stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects an unknown service and an invalid variable with their names', async () => {
    const unknown = await run('node', [CLI, 'serve', 'nope'], { env: { PATH: process.env.PATH } }).catch((e: { code: number; stderr: string }) => e);
    expect((unknown as { stderr: string }).stderr).toContain('one of auth, user, content');
    const bad = await run('node', [CLI, 'serve', 'events'], { env: { ...env.env({ HTTP_PORT: 'eighty' }), PATH: process.env.PATH } }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain('HTTP_PORT must be an integer, got "eighty"');
  });
});
