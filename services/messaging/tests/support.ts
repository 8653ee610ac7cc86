import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { runServices, type EventEnvelope, type RunningPlatform } from '@nova/platform';
import { httpCaller, startPlatform, type ApiResponse, type CallOptions, type PlatformHarness, type TestEvent, type TestUser } from '@nova/testing';
import { userService } from '@nova/user';
import { messagingService } from '../src/index.js';
import type { MessagingDb } from '../src/db/schema.js';

export { newUsername, type ApiResponse, type CallOptions, type TestUser } from '@nova/testing';

/**
 * The messaging service's integration-test harness: messaging with the real user service (settings, blocks
 * and follows over gRPC, in-process) on the real PostgreSQL, Redis and NATS of a fresh isolated
 * environment. Accounts come into being as in production (auth's UserRegistered on JetStream); tokens come
 * from a local stand-in for auth (TestTokenIssuer). WebSocket clients are real `ws` clients.
 */

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

export interface MessagingHarness extends Omit<PlatformHarness<MessagingDb>, 'api'> {
  /** An HTTP call to the first instance, or to another one's `port`. */
  api<T = any>(method: string, path: string, opts?: CallOptions, port?: number): Promise<ApiResponse<T>>;
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
  /** Publishes an event as the auth service would (e.g. UserDeleted); returns the envelope. */
  publishAuthEvent(e: TestEvent): Promise<EventEnvelope>;
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
  const h = await startPlatform<MessagingDb>({ services: [messagingService, userService], overrides: { MESSAGING_ENCRYPTION_KEY: newKey(), ...overrides } });
  const raw = h.rawEnv;
  const platform = h.platform;
  const extra: RunningPlatform[] = [];
  const children: ChildProcess[] = [];

  const api: MessagingHarness['api'] = (method, path, opts = {}, port = platform.httpPort) => httpCaller(port)(method, path, opts);

  const connect: MessagingHarness['connect'] = (user, opts = {}) => {
    const token = typeof user === 'string' ? user : user.token;
    return openSocket(`ws://127.0.0.1:${opts.port ?? platform.httpPort}/ws`, opts.protocols ?? ['nova.v1', `bearer.${token}`], opts.headers);
  };

  return {
    ...h,
    api,
    connect,
    async settings(a, patch) {
      const res = await api('PATCH', '/api/v1/users/me/settings', { token: a.token, body: patch });
      if (res.status !== 200) throw new Error(`${a.username} settings: HTTP ${res.status} ${JSON.stringify(res.body)}`);
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
    publishAuthEvent: (e) => h.publishEvent('auth', e),
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
      for (const p of extra) await p.stop();
      await h.stop();
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
