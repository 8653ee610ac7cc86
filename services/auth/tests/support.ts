import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { createLogger, createMetrics, createServicePool, runServices, sql, type Kysely, type RunningPlatform, type ServicePool } from '@nova/platform';
import { createTestEnv, eventually, httpCaller, type ApiResponse, type CallOptions, type TestEnv } from '@nova/testing';

export { freshIp, type ApiResponse, type CallOptions } from '@nova/testing';
import { authService } from '../src/index.js';
import type { AuthDb } from '../src/db/schema.js';
import { totpFor } from '../src/domain/two-factor-check.js';

/** A message the local SMTP server received. */
export interface CapturedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  receivedAt: number;
}

/**
 * A real SMTP server on a free local port that keeps every message it is handed: the service's nodemailer
 * transport talks to it exactly as it would to a relay.
 */
export class MailCatcher {
  readonly messages: CapturedMail[] = [];
  private server: SMTPServer | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            this.messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              receivedAt: Date.now(),
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Messages to `to` (case-insensitive) whose subject matches. */
  find(to: string, subject?: RegExp): CapturedMail[] {
    const addr = to.toLowerCase();
    return this.messages.filter((m) => m.to.includes(addr) && (!subject || subject.test(m.subject)));
  }

  /** The `n`-th (1-based) message to `to` with a matching subject, once it has arrived. */
  async waitFor(to: string, subject: RegExp, n = 1): Promise<CapturedMail> {
    return eventually(() => this.find(to, subject)[n - 1], `mail #${n} to ${to} matching ${subject}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** The first link in a mail, and its `token` query parameter. */
export function mailLink(mail: CapturedMail): { url: URL; token: string } {
  const match = /https?:\/\/\S+/.exec(mail.text);
  if (!match) throw new Error(`no link in mail "${mail.subject}": ${mail.text}`);
  const url = new URL(match[0]);
  const token = url.searchParams.get('token');
  if (!token) throw new Error(`the link in "${mail.subject}" has no token: ${url.toString()}`);
  return { url, token };
}

export interface AuthHarness {
  env: TestEnv;
  platform: RunningPlatform;
  mail: MailCatcher;
  /** Kysely on the auth schema, for assertions and for moving time (expiries) in the database. */
  db: Kysely<AuthDb>;
  publicUrl: string;
  api<T = any>(method: string, path: string, opts?: CallOptions): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

/**
 * Starts the auth service on the real PostgreSQL, Redis and NATS of a fresh isolated environment, with a
 * local SMTP server for its mail. `overrides` are raw env values (AUTH_LOCKOUT_SECONDS, ...).
 */
export async function startAuth(overrides: Record<string, string> = {}): Promise<AuthHarness> {
  const env = await createTestEnv();
  const mail = new MailCatcher();
  await mail.start();
  const publicUrl = 'https://nova.test/app';
  const raw = env.env({
    AUTH_KEY_SIZE_BITS: '2048',
    AUTH_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    AUTH_PUBLIC_URL: publicUrl,
    SMTP_URL: mail.url,
    MAIL_FROM: 'Nova <no-reply@nova.test>',
    TRUSTED_PROXIES: '127.0.0.1',
    ...overrides,
  });
  let platform: RunningPlatform;
  try {
    platform = await runServices({ services: [authService], env: raw });
  } catch (err) {
    await mail.stop();
    await env.cleanup();
    throw err;
  }
  const pool: ServicePool<AuthDb> = createServicePool<AuthDb>({
    service: 'auth-test',
    schema: 'auth',
    connectionString: env.databaseUrl,
    max: 2,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger({ level: 'silent' }),
  });

  const api = httpCaller(platform.httpPort);

  return {
    env,
    platform,
    mail,
    db: pool.db,
    publicUrl,
    api,
    async stop() {
      await platform.stop();
      await pool.close();
      await mail.stop();
      await env.cleanup();
    },
  };
}

let userCounter = 0;
/** Credentials no other test in this process uses. */
export function newCredentials(label = 'user'): { email: string; username: string; password: string } {
  userCounter += 1;
  const tag = `${label}${userCounter}${randomBytes(3).toString('hex')}`.slice(0, 28);
  return { email: `${tag}@example.test`, username: tag, password: `Correct-Horse-${randomBytes(4).toString('hex')}` };
}

export interface RegisteredUser {
  id: string;
  email: string;
  username: string;
  password: string;
  access: string;
  refresh: string;
  sessionId: string;
}

/** Registers a fresh account through the API and returns its credentials and first token pair. */
export async function registerUser(h: AuthHarness, label?: string): Promise<RegisteredUser> {
  const creds = newCredentials(label);
  const res = await h.api('POST', '/api/v1/auth/register', { body: creds });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...creds, id: res.body.user.id, access: res.body.tokens.access_token, refresh: res.body.tokens.refresh_token, sessionId: res.body.tokens.session_id };
}

/** Logs in; returns the raw response. */
export function login(h: AuthHarness, identifier: string, password: string, extra: { totp_code?: string; ip?: string; headers?: Record<string, string> } = {}) {
  return h.api('POST', '/api/v1/auth/login', {
    body: { identifier, password, ...(extra.totp_code !== undefined ? { totp_code: extra.totp_code } : {}) },
    ...(extra.ip !== undefined ? { ip: extra.ip } : {}),
    ...(extra.headers !== undefined ? { headers: extra.headers } : {}),
  });
}

/** Outbox rows of one event type about one entity (the subject is `<aggregate>/<id>`), oldest first. */
export async function outboxEvents(h: AuthHarness, type: string, entityId?: string): Promise<Array<{ type: string; subject: string; data: any; correlation_id: string | null }>> {
  const { rows } = await sql<{ envelope: any }>`SELECT envelope FROM auth.outbox WHERE event_type = ${type} ORDER BY created_at, id`.execute(h.db);
  return rows
    .map((r) => r.envelope)
    .filter((e) => entityId === undefined || String(e.subject).endsWith(`/${entityId}`))
    .map((e) => ({ type: e.type, subject: e.subject, data: e.data, correlation_id: e.correlation_id }));
}

/** The TOTP code for `secret` at `offsetSteps` 30-second steps from now. */
export function totpCode(secret: string, offsetSteps = 0, at = Date.now()): string {
  return totpFor(secret).generate({ timestamp: at + offsetSteps * 30_000 });
}

/**
 * Waits until at least `marginMs` remain in the current 30-second step, so a code computed now for a step
 * offset is checked by the server within the same step.
 */
export async function awaitStepMargin(marginMs = 8_000): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}
