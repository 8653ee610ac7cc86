import { join } from 'node:path';
import { authService, DEFAULT_KEY_ACTIVATION_DELAY_SECONDS, grantRole, KEY_STATUS_MEANING, listKeys, rotateKeys, type KeyInfo } from '@nova/auth';
import {
  createLogger,
  ensureDatabase,
  generateDevCertificates,
  loadConfigs,
  migrateAll,
  runServices,
  runTask,
  SERVICE_NAMES,
  StartupError,
  type RunningPlatform,
} from '@nova/platform';
import { ALL_SERVICES, findService } from './registry.js';

type Env = Record<string, string | undefined>;

export const USAGE = `nova — the Nova backend

Usage:
  nova up                  run all 12 services in one process (HTTP :8080, gRPC :9090), migrating first
  nova serve <service>     run one service (what each Kubernetes Deployment runs)
  nova migrate [service…]  apply migrations (all services by default)
  nova certs dev [--out D] write a development CA, server certificate and one client certificate per service
  nova keys rotate [--activate-in SECONDS | --now] [--force]
                           create a new JWT signing key: published in the JWKS at once, signing after
                           ${DEFAULT_KEY_ACTIVATION_DELAY_SECONDS} s by default (so every verifier has it by then); nobody is logged
                           out. A time that would withdraw a key whose access tokens are still valid
                           is refused unless --force (a compromised key)
  nova keys list           the signing keys: kid, created, activates, status (pending, active, previous,
                           superseded, retired)
  nova users role <user id | username | email> <user|moderator|admin>
                           grant a role (emits UserRoleChanged; the account's sessions end, so its next
                           login carries the new role)
  nova help                this text

Services: ${SERVICE_NAMES.join(', ')}
Configuration comes from the environment (see README.md, "Configuration").`;

export async function up(env: Env): Promise<RunningPlatform> {
  return runServices({ services: ALL_SERVICES, env });
}

export async function serve(name: string | undefined, env: Env): Promise<RunningPlatform> {
  const module = name ? findService(name) : undefined;
  if (!module) throw new StartupError(`nova serve needs a service name: one of ${SERVICE_NAMES.join(', ')}`);
  return runServices({ services: [module], env });
}

export async function migrate(names: string[], env: Env): Promise<void> {
  const modules = names.length === 0 ? ALL_SERVICES : names.map((n) => findService(n) ?? failUnknown(n));
  const { platform } = await loadConfigs(modules, env);
  await ensureDatabase(platform.DATABASE_URL);
  await migrateAll(platform, modules, createLogger({ level: platform.LOG_LEVEL }));
}

export async function certsDev(outDir: string | undefined, cwd: string): Promise<string> {
  const dir = outDir ?? join(cwd, '.nova', 'certs');
  await generateDevCertificates(dir, { services: SERVICE_NAMES });
  return dir;
}

/** Longest `--activate-in`: a key that waits longer than this is more likely a typo than a plan. */
const MAX_ACTIVATION_DELAY_SECONDS = 30 * 86_400;

/** `nova keys rotate`: returns what to print. */
export async function keysRotate(opts: { now?: boolean; activateIn?: string; force?: boolean }, env: Env): Promise<string> {
  if (opts.now && opts.activateIn !== undefined) throw new StartupError('nova keys rotate: give --now or --activate-in, not both');
  let delay: number | undefined;
  if (opts.now) delay = 0;
  else if (opts.activateIn !== undefined) {
    delay = Number(opts.activateIn);
    if (!/^\d+$/.test(opts.activateIn) || delay > MAX_ACTIVATION_DELAY_SECONDS) {
      throw new StartupError(`nova keys rotate: --activate-in must be a whole number of seconds from 0 to ${MAX_ACTIVATION_DELAY_SECONDS}, got "${opts.activateIn}"`);
    }
  }
  const activatesAt = delay === undefined ? undefined : new Date(Date.now() + delay * 1000);
  const r = await runTask(authService, env, (deps) => rotateKeys(deps, { activatesAt, force: opts.force }));
  const inSeconds = Math.max(0, Math.round((r.activatesAt.getTime() - Date.now()) / 1000));
  const lines = [
    `signing key ${r.kid} created`,
    delay === 0
      ? '  signs new tokens now (each auth replica switches within 30 s; verifiers fetch the new kid on first sight)'
      : `  published in the JWKS now; signs new tokens from ${r.activatesAt.toISOString()} (in ${inSeconds} s${r.delayedForSafety ? ': the earliest moment that withdraws no key whose access tokens are still valid' : ''})`,
    opts.force
      ? '  --force: access tokens of a key this withdraws from the JWKS are refused from then on (their clients must refresh)'
      : '  tokens signed by the previous key stay valid until they expire: nobody is logged out',
  ];
  if (r.retired.length > 0) lines.push(`  retired ${r.retired.length} old key(s) whose refresh tokens have all expired: ${r.retired.join(', ')}`);
  return lines.join('\n');
}

/** `nova keys list`: a table of the signing keys. */
export async function keysList(env: Env): Promise<string> {
  const keys = await runTask(authService, env, (deps) => listKeys(deps), { flushOutbox: false });
  return formatKeys(keys);
}

export function formatKeys(keys: KeyInfo[]): string {
  const rows = [['KID', 'STATUS', 'CREATED', 'ACTIVATES', 'RETIRED'], ...keys.map((k) => [k.kid, k.status, k.created_at.toISOString(), k.activates_at.toISOString(), k.retired_at?.toISOString() ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const legend = [...new Set(keys.map((k) => k.status))].map((s) => `  ${s}: ${KEY_STATUS_MEANING[s]}`);
  return [...table, ...(legend.length > 0 ? ['', ...legend] : ['(no signing keys yet: the auth service creates one when it first starts)'])].join('\n');
}

/** `nova users role <who> <role>`: returns what to print. */
export async function usersRole(who: string | undefined, role: string | undefined, env: Env): Promise<string> {
  if (!who || !role) throw new StartupError('usage: nova users role <user id | username | email> <user|moderator|admin>');
  const r = await runTask(authService, env, (deps) => grantRole(deps, who, role));
  if (!r.changed) return `${r.user.username} (${r.user.id}) already has the role ${r.user.role}`;
  return `${r.user.username} (${r.user.id}): ${r.from} -> ${r.user.role}; ${r.sessionsEnded} session(s) ended, the next login carries the new role`;
}

function failUnknown(name: string): never {
  throw new StartupError(`unknown service "${name}": one of ${SERVICE_NAMES.join(', ')}`);
}
