import { join } from 'node:path';
import {
  createLogger,
  ensureDatabase,
  generateDevCertificates,
  loadConfigs,
  migrateAll,
  runServices,
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

function failUnknown(name: string): never {
  throw new StartupError(`unknown service "${name}": one of ${SERVICE_NAMES.join(', ')}`);
}
