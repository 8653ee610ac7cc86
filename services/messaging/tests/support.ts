import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import {
  connectNats,
  createLogger,
  createMetrics,
  createServicePool,
  eventSubject,
  newId,
  runServices,
  sql,
  type EventEnvelope,
  type Kysely,
  type NatsHandle,
  type RunningPlatform,
  type ServicePool,
} from '@nova/platform';
import { createTestEnv, eventually, TestTokenIssuer, type TestEnv } from '@nova/testing';
import { userService } from '@nova/user';
import { messagingService } from '../src/index.js';
import type { MessagingDb } from '../src/db/schema.js';

/**
 * The messaging service's integration-test harness: messaging with the real user service (settings, blocks
 * and follows over gRPC, in-process) on the real PostgreSQL, Redis and NATS of a fresh isolated
 * environment. Accounts come into being as in production (auth's UserRegistered on JetStream); tokens come
 * from a local stand-in for auth (TestTokenIssuer). WebSocket clients are real `ws` clients.
 */

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

/** A connected test WebSocket that records every frame it receives. */
export interface TestSocket {
  ws: WebSocket;
  frames: any[];
  send(frame: unknown): void;
  /** The first recorded frame (from `from` on) matching `pred`; waits for it. */
  next(pred: (f: any) => boolean, what: string, timeoutMs?: number): Promise<any>;
  /** Resolves with the close code and reason once the server closes the socket. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export interface MessagingHarness {
  env: TestEnv;
  issuer: TestTokenIssuer;
  platform: RunningPlatform;
  db: Kysely<MessagingDb>;
  api<T = any>(method: string, path: string, opts?: CallOptions, port?: number): Promise<ApiResponse<T>>;
  newUser(): Promise<TestUser>;
  follow(a: TestUser, b: TestUser): Promise<void>;
  block(a: TestUser, b: TestUser): Promise<void>;
  settings(a: TestUser, patch: Record<string, unknown>): Promise<void>;
  /** Opens `/ws` with the token as a `bearer.` subprotocol (or as given) and waits for `hello`. */
  connect(user: TestUser | string, opts?: { port?: number; protocols?: string[]; headers?: Record<string, string> }): Promise<TestSocket>;
  /** Starts another messaging-only instance on the same database, Redis and NATS (cross-instance delivery). */
  secondInstance(): Promise<RunningPlatform>;
  /**
   * Starts `nova serve messaging` as a separate OS process (the built CLI, packages/cli/dist: run `tsc -b`
   * first) on the same database, Redis and NATS; resolves with its HTTP port once it is ready.
   */
  secondProcess(): Promise<{ httpPort: number; stop(): Promise<void> }>;
  publishAuthEvent(e: { aggregate: string; action: string; type: string; entityId: string; data: unknown }): Promise<EventEnvelope>;
  outboxEvents(type: string): Promise<EventEnvelope<any>[]>;
  stop(): Promise<void>;
}

let userCounter = 0;
export function newUsername(label = 'm'): string {
  userCounter += 1;
  return `${label}_${userCounter}_${randomBytes(4).toString('hex')}`.slice(0, 32);
}

/** A fresh 32-byte key, base64 (MESSAGING_ENCRYPTION_KEY). */
export const newKey = () => randomBytes(32).toString('base64');

export function openSocket(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    const frames: any[] = [];
    const waiters = new Set<() => void>();
    let closedResolve!: (v: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
    ws.on('message', (data) => {
      frames.push(JSON.parse(String(data)));
      for (const w of waiters) w();
    });
    ws.on('close', (code, reason) => closedResolve({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
    ws.on('error', reject);
    const socket: TestSocket = {
      ws,
      frames,
      send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
      next: (pred, what, timeoutMs = 10_000) =>
        new Promise((res, rej) => {
          const check = () => {
            const f = frames.find(pred);
            if (f !== undefined) {
              waiters.delete(check);
              clearTimeout(timer);
              res(f);
            }
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            rej(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames).slice(0, 2000)}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
      closed,
      close: () => ws.close(),
    };
    ws.on('open', () => {
      socket
        .next((f) => f.type === 'hello', 'hello')
        .then(() => resolve(socket), reject);
    });
  });
}

export async function startMessagingService(overrides: Record<string, string> = {}): Promise<MessagingHarness> {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const raw = env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', MESSAGING_ENCRYPTION_KEY: newKey(), ...overrides });
  let platform: RunningPlatform;
  let nats: NatsHandle;
  let pool: ServicePool<MessagingDb>;
  const extra: RunningPlatform[] = [];
  const children: ChildProcess[] = [];
  try {
    platform = await runServices({ services: [messagingService, userService], env: raw });
    nats = await connectNats({ servers: platform.config.NATS_URL, name: `messaging-test-${env.id}`, logger: createLogger({ level: 'silent' }) });
    pool = createServicePool<MessagingDb>({
      service: 'messaging-test',
      schema: 'messaging',
      connectionString: env.databaseUrl,
      max: 3,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    });
  } catch (err) {
    await issuer.close();
    await env.cleanup();
    throw err;
  }

  let ip = 0;
  const api = async <T = any>(method: string, path: string, opts: CallOptions = {}, port = platform.httpPort): Promise<ApiResponse<T>> => {
    ip++;
    const headers: Record<string, string> = { 'x-forwarded-for': `10.9.${(ip >> 8) & 255}.${ip & 255}`, ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text so a failing assertion shows it.
    }
    return { status: res.status, body: body as T, headers: res.headers };
  };

  const must = (res: ApiResponse, ok: number[], what: string) => {
    if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  };

  const publishAuthEvent: MessagingHarness['publishAuthEvent'] = async (e) => {
    const envelope: EventEnvelope = { id: newId(), type: e.type, version: 1, source: 'auth', subject: `${e.aggregate}/${e.entityId}`, occurred_at: new Date().toISOString(), correlation_id: null, data: e.data };
    await nats.js.publish(eventSubject(env.natsPrefix, 'auth', e.aggregate, e.action), JSON.stringify(envelope), { msgID: envelope.id });
    return envelope;
  };

  const newUser = async (): Promise<TestUser> => {
    const id = newId();
    const username = newUsername();
    await publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: id, data: { user_id: id, username, email_verified: false, method: 'password' } });
    const token = await issuer.sign({ sub: id, role: 'user' });
    await eventually(async () => (await api('GET', `/api/v1/users/${id}`, { token })).status === 200, `the profile of ${username}`);
    return { id, username, token };
  };

  const connect: MessagingHarness['connect'] = (user, opts = {}) => {
    const token = typeof user === 'string' ? user : user.token;
    return openSocket(`ws://127.0.0.1:${opts.port ?? platform.httpPort}/ws`, opts.protocols ?? ['nova.v1', `bearer.${token}`], opts.headers);
  };

  return {
    env,
    issuer,
    platform,
    db: pool.db,
    api,
    newUser,
    connect,
    async follow(a, b) {
      must(await api('POST', `/api/v1/users/${b.id}/follow`, { token: a.token }), [200, 201, 202], `${a.username} follows ${b.username}`);
    },
    async block(a, b) {
      must(await api('POST', `/api/v1/users/${b.id}/block`, { token: a.token }), [200, 201, 204], `${a.username} blocks ${b.username}`);
    },
    async settings(a, patch) {
      must(await api('PATCH', '/api/v1/users/me/settings', { token: a.token, body: patch }), [200], `${a.username} settings`);
    },
    async secondInstance() {
      const p = await runServices({ services: [messagingService], env: { ...raw, GRPC_ADDR_USER: `127.0.0.1:${platform.grpcPort}` }, migrate: false });
      extra.push(p);
      return p;
    },
    async secondProcess() {
      const [httpPort, grpcPort] = [await freePort(), await freePort()];
      const main = new URL('../../../packages/cli/dist/main.js', import.meta.url).pathname;
      const child = spawn(process.execPath, [main, 'serve', 'messaging'], {
        env: { ...raw, HTTP_PORT: String(httpPort), GRPC_PORT: String(grpcPort), GRPC_ADDR_USER: `127.0.0.1:${platform.grpcPort}`, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`nova serve messaging exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
        const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`).then((r) => r.ok, () => false);
        if (ready) break;
        if (Date.now() > deadline) throw new Error(`nova serve messaging did not become ready: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      return {
        httpPort,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    },
    publishAuthEvent,
    async outboxEvents(type) {
      const { rows } = await sql<{ envelope: EventEnvelope<any> }>`SELECT envelope FROM messaging.outbox WHERE event_type = ${type} ORDER BY created_at, id`.execute(pool.db);
      return rows.map((r) => r.envelope);
    },
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
      for (const p of extra) await p.stop();
      await platform.stop();
      await nats.close();
      await pool.close();
      await issuer.close();
      await env.cleanup();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
