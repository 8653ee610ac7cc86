import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  channelCredentials,
  clientTlsFromConfig,
  createGrpcServer,
  createLogger,
  createMetrics,
  platformSpec,
  readConfig,
  envSource,
  SERVICE_NAMES,
  SERVICES,
  type ConfigSpec,
  type GrpcServer,
} from '@nova/platform';
import { feedMetrics } from '../../../services/feed/src/domain/metrics.js';
import { ALL_SERVICES } from '../src/registry.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const k8sDir = join(root, 'deploy/k8s');
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');

// ------------------------------------------------------------------ loading ------------------------------------------------------------------

// Kubernetes objects are loosely typed (`any`): the tests below check them field by field.
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; spec?: any; data?: any; stringData?: any; [k: string]: any };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

function parseFile(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => {
      expect(d.errors, `${path}: ${d.errors.join('; ')}`).toEqual([]);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const kustomization = parseFile(join(k8sDir, 'kustomization.yaml'))[0]!;
/** The base: exactly the resources `kubectl apply -k deploy/k8s` applies. */
const base: K8sObject[] = (kustomization.resources as string[]).flatMap((r) => parseFile(join(k8sDir, r)));
const job = parseFile(join(k8sDir, 'migrate/job.yaml'))[0]!;
const ofKind = (kind: string) => base.filter((o) => o.kind === kind);
const find = (kind: string, name: string) => base.find((o) => o.kind === kind && o.metadata.name === name);
const configMap = find('ConfigMap', 'nova-config')!;
const deployments = ofKind('Deployment');
const containerOf = (d: K8sObject) => d.spec.template.spec.containers[0];

/** What the process sees: the ConfigMap (envFrom) overlaid by the container's own env. */
function effectiveEnv(pod: any): Map<string, any> {
  const env = new Map<string, any>();
  const c = pod.containers[0];
  for (const from of c.envFrom ?? []) {
    expect(from.configMapRef?.name, 'envFrom only takes the shared ConfigMap').toBe('nova-config');
    for (const [k, v] of Object.entries(configMap.data)) env.set(k, v);
  }
  for (const e of c.env ?? []) env.set(e.name, e.value ?? e.valueFrom);
  return env;
}

// ------------------------------------------------------------------- tests -------------------------------------------------------------------

describe('deploy/k8s: the Kustomize base', () => {
  it('lists every manifest file, and every file is what scripts/k8s-manifests.mjs writes (npm run deploy:manifests)', async () => {
    const listed = new Set((kustomization.resources as string[]).map((r) => join(k8sDir, r)));
    const files = yamlFiles(k8sDir).filter((f) => !f.endsWith('kustomization.yaml') && !f.startsWith(join(k8sDir, 'migrate')));
    expect(files.filter((f) => !listed.has(f)).map((f) => relative(root, f)), 'manifests missing from kustomization.yaml').toEqual([]);
    expect(kustomization.namespace).toBe('nova');
    expect(find('Namespace', 'nova')).toBeDefined();

    // The generator reads SERVICES from the compiled platform: `npm test` builds first (pretest).
    const { render } = (await import(pathToFileURL(join(root, 'scripts/k8s-manifests.mjs')).href)) as { render(): Record<string, string> };
    for (const [rel, content] of Object.entries(render())) expect(read(rel), `${rel} is stale: run npm run deploy:manifests`).toBe(content);
  });

  it('every service in SERVICES has a Deployment running `serve <name>`, a Service with http 8080 and grpc 9090, and a PDB', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const name of SERVICE_NAMES) {
      const d = find('Deployment', name)!;
      const c = containerOf(d);
      expect(c.command, `${name}: the image's ENTRYPOINT is the nova command`).toBeUndefined();
      expect(c.args, name).toEqual(['serve', name]);
      expect(c.image, name).toBe('nova');
      expect(c.ports, name).toEqual([
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'grpc', containerPort: 9090, protocol: 'TCP' },
      ]);
      const labels = d.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(labels[k], `${name}: selector matches the pod`).toBe(v);

      const svc = find('Service', name)!;
      expect(svc, `Service ${name}`).toBeDefined();
      expect(svc.spec.selector, name).toEqual(d.spec.selector.matchLabels);
      expect(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort]), name).toEqual([
        ['http', 8080, 'http'],
        ['grpc', 9090, 'grpc'],
      ]);

      const pdb = find('PodDisruptionBudget', name)!;
      expect(pdb, `PodDisruptionBudget ${name}`).toBeDefined();
      expect(pdb.spec.selector.matchLabels, name).toEqual(d.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable, name).toBe(1);
    }
  });

  it('probes: startup and readiness on /ready, liveness on /health, on the http port; Prometheus scrapes /metrics there', () => {
    for (const d of deployments) {
      const c = containerOf(d);
      const get = (probe: string) => c[probe]?.httpGet;
      expect(get('startupProbe'), d.metadata.name).toEqual({ path: '/ready', port: 'http' });
      expect(get('readinessProbe'), d.metadata.name).toEqual({ path: '/ready', port: 'http' });
      expect(get('livenessProbe'), d.metadata.name).toEqual({ path: '/health', port: 'http' });
      // /ready gives each dependency check 2 s (platform/src/http/app.ts): the probe must wait longer.
      for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(c[p].timeoutSeconds, `${d.metadata.name} ${p}`).toBeGreaterThan(2);
      expect(d.spec.template.metadata.annotations, d.metadata.name).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
    }
  });

  it('every environment variable the manifests set is one the config specs know, and its value passes validation', () => {
    const specs: ConfigSpec = Object.assign({}, platformSpec, ...ALL_SERVICES.map((m) => m.config ?? {}));
    // Read outside the specs: by config/source.ts at boot, and by Node itself.
    const outside = new Set(['NOVA_SECRETS_MANAGER_SECRET_ID', 'NOVA_SECRETS_MANAGER_ENDPOINT', 'AWS_REGION', 'NODE_OPTIONS']);
    const known = (name: string) => name in specs || (name.endsWith('_FILE') && name.slice(0, -5) in specs) || outside.has(name);

    const set = new Map<string, string[]>();
    const note = (name: string, where: string) => set.set(name, [...(set.get(name) ?? []), where]);
    for (const key of Object.keys(configMap.data)) note(key, 'ConfigMap nova-config');
    for (const w of [...deployments, job]) for (const e of containerOf(w).env ?? []) note(e.name, `${w.kind} ${w.metadata.name}`);
    expect(set.size).toBeGreaterThan(20);
    const unknown = [...set].filter(([name]) => !known(name)).map(([name, where]) => `${name} (${where.join(', ')})`);
    expect(unknown, 'variables no config spec reads (renamed?)').toEqual([]);

    // Literal values must parse: a typo in APP_ENV or a bad boolean would stop every pod at boot.
    const literal: Record<string, string> = { ...configMap.data };
    for (const d of deployments) for (const e of containerOf(d).env ?? []) if (typeof e.value === 'string' && e.name in specs) literal[e.name] = e.value;
    const subset = Object.fromEntries(Object.keys(literal).filter((k) => k in specs).map((k) => [k, specs[k]!])) as ConfigSpec;
    expect(() => readConfig(subset, envSource(literal))).not.toThrow();
  });

  it('runs in production with mTLS: TLS paths point into a read-only mount of the pod\'s own certificates', () => {
    for (const d of deployments) {
      const name = d.metadata.name;
      const env = effectiveEnv(d.spec.template.spec);
      expect(env.get('APP_ENV'), name).toBe('production');
      expect(env.get('GRPC_TLS_ENABLED'), name).toBe('true');
      expect(env.get('GRPC_TLS_REQUIRE_CLIENT_CERT'), name).toBe('true');
      // One name for every server would mean one shared server key: each server certificate names its own Service.
      expect(env.has('GRPC_TLS_DOMAIN_NAME'), name).toBe(false);

      const c = containerOf(d);
      const mount = c.volumeMounts.find((m: any) => m.name === 'grpc-tls');
      expect(mount?.readOnly, name).toBe(true);
      const volume = d.spec.template.spec.volumes.find((v: any) => v.name === 'grpc-tls');
      expect(volume.secret.secretName, name).toBe('nova-grpc-tls');
      const projected = new Map<string, string>(volume.secret.items.map((i: any) => [`${mount.mountPath}/${i.path}`, i.key]));
      expect(projected.get(env.get('GRPC_TLS_CA_CERT_PATH')), name).toBe('ca.crt');
      expect(projected.get(env.get('GRPC_TLS_SERVER_CERT_PATH')), name).toBe(`${name}-server.crt`);
      expect(projected.get(env.get('GRPC_TLS_SERVER_KEY_PATH')), name).toBe(`${name}-server.key`);
      expect(projected.get(env.get('GRPC_TLS_CLIENT_CERT_PATH')), name).toBe(`${name}.crt`);
      expect(projected.get(env.get('GRPC_TLS_CLIENT_KEY_PATH')), name).toBe(`${name}.key`);
      expect(projected.size, `${name} mounts only its own keys`).toBe(5);
    }
  });

  it('sets GRPC_ADDR_<SVC> for every peer to its Service on 9090, and AUTH_JWKS_URL where auth does not run', () => {
    for (const d of deployments) {
      const name = d.metadata.name;
      const env = effectiveEnv(d.spec.template.spec);
      for (const peer of SERVICE_NAMES.filter((s) => s !== name)) {
        expect(env.get(`GRPC_ADDR_${peer.toUpperCase()}`), `${name} -> ${peer}`).toBe(`${peer}.nova.svc.cluster.local:9090`);
        expect(find('Service', peer)?.spec.ports.find((p: any) => p.port === 9090)?.name).toBe('grpc');
      }
      if (name === 'auth') expect(env.has('AUTH_JWKS_URL')).toBe(false);
      else expect(env.get('AUTH_JWKS_URL'), name).toBe('http://auth.nova.svc.cluster.local:8080/.well-known/jwks.json');
    }
  });

  it('takes secrets only from the Secrets nova-secrets and nova-grpc-tls, and no Secret in the repository carries data', () => {
    for (const path of yamlFiles(join(root, 'deploy'))) {
      for (const o of parseFile(path).filter((x) => x.kind === 'Secret')) {
        expect(o.data ?? o.stringData, `${relative(root, path)}: Secret ${o.metadata.name} has data`).toBeUndefined();
      }
    }
    for (const w of [...deployments, job]) {
      for (const e of containerOf(w).env ?? []) {
        if (e.valueFrom) expect(e.valueFrom.secretKeyRef?.name, `${w.metadata.name} ${e.name}`).toBe('nova-secrets');
        if (/KEY|SECRET|TOKEN|PASSWORD|_URL$/.test(e.name) && e.value !== undefined) {
          expect(e.name, `${w.metadata.name}: ${e.name} is a literal`).toMatch(/^(GRPC_ADDR_|AUTH_JWKS_URL$)/);
        }
      }
    }
    for (const key of Object.keys(configMap.data)) expect(platformSpec[key as keyof typeof platformSpec]?.secret ?? false, key).toBe(false);
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'NATS_URL']) for (const d of deployments) expect(effectiveEnv(d.spec.template.spec).get(key)?.secretKeyRef, `${d.metadata.name} ${key}`).toEqual({ name: 'nova-secrets', key });
    expect(effectiveEnv(find('Deployment', 'auth')!.spec.template.spec).get('AUTH_ENCRYPTION_KEY')?.secretKeyRef).toEqual({ name: 'nova-secrets', key: 'AUTH_ENCRYPTION_KEY' });
  });

  it('hardens every pod: non-root, read-only root filesystem with /tmp on an emptyDir, no capabilities, RuntimeDefault seccomp, no API token', () => {
    for (const w of [...deployments, job]) {
      const pod = w.spec.template.spec;
      const c = containerOf(w);
      const name = w.metadata.name;
      expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(c.securityContext, name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext.capabilities.add, name).toBeUndefined();
      const tmp = c.volumeMounts.find((m: any) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: any) => v.name === tmp?.name)?.emptyDir, `${name}: /tmp is writable`).toBeDefined();
      expect(pod.automountServiceAccountToken, name).toBe(false);
      // Service links would put AUTH_PORT, FEED_SERVICE_HOST, ... into the environment of every pod.
      expect(pod.enableServiceLinks, name).toBe(false);
      expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${name} resources`).toBeTruthy();
    }
  });

  it('sizes Node\'s heap below the memory limit and gives the drain time to finish', () => {
    const mib = (q: string) => Number(q.slice(0, -2)) * (q.endsWith('Gi') ? 1024 : 1);
    for (const d of deployments) {
      const c = containerOf(d);
      const limit = mib(c.resources.limits.memory);
      const heap = Number(/--max-old-space-size=(\d+)/.exec(effectiveEnv(d.spec.template.spec).get('NODE_OPTIONS'))?.[1]);
      expect(heap, d.metadata.name).toBeGreaterThan(0);
      expect(heap, `${d.metadata.name}: heap leaves room for buffers, native memory and the stack`).toBeLessThanOrEqual(limit * 0.8);

      // SIGTERM arrives after preStop; then HTTP drains, gRPC gets 10 s (runner.ts), consumers and pools stop.
      const preStop = Number(c.lifecycle.preStop.exec.command.at(-1));
      expect(preStop, d.metadata.name).toBeGreaterThan(0);
      expect(d.spec.template.spec.terminationGracePeriodSeconds, d.metadata.name).toBeGreaterThanOrEqual(preStop + 10 + 15);
      expect(d.spec.strategy.rollingUpdate.maxUnavailable, d.metadata.name).toBe(0);
    }
  });

  it('leaves the replica count to the HPA where there is one, runs two replicas elsewhere, and spreads them over zones and nodes', () => {
    const hpas = ofKind('HorizontalPodAutoscaler');
    expect(hpas.length).toBeGreaterThan(0);
    for (const d of deployments) {
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
      if (hpa) {
        expect(d.spec.replicas, `${d.metadata.name}: kubectl apply would reset what the HPA chose`).toBeUndefined();
        expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      } else expect(d.spec.replicas, d.metadata.name).toBeGreaterThanOrEqual(2);
      const keys = d.spec.template.spec.topologySpreadConstraints.map((t: any) => t.topologyKey);
      expect(keys, d.metadata.name).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    }
    for (const stateful of ['messaging', 'streaming']) expect(hpas.some((h) => h.spec.scaleTargetRef.name === stateful), stateful).toBe(false);
  });

  it('states in docs/OPERATIONS.md the PostgreSQL connections the deployment can hold at full scale', () => {
    // Every pod of a service holds up to its pool; a rollout surges one extra pod; the Job migrates with one.
    const hpas = ofKind('HorizontalPodAutoscaler');
    let peak = 1;
    let steady = 0;
    for (const d of deployments) {
      const name = d.metadata.name as keyof typeof SERVICES;
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === name);
      const max = hpa ? hpa.spec.maxReplicas : d.spec.replicas;
      const min = hpa ? hpa.spec.minReplicas : d.spec.replicas;
      peak += (max + d.spec.strategy.rollingUpdate.maxSurge) * SERVICES[name].poolMax;
      steady += min * SERVICES[name].poolMax;
    }
    const ops = read('docs/OPERATIONS.md');
    expect(ops).toContain(`${steady} connections`);
    expect(ops).toContain(`${peak} connections`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('copies every workspace\'s package.json before `npm ci` (a missing one breaks the install against the lockfile)', () => {
    const workspaces = ['packages', 'services'].flatMap((dir) => readdirSync(join(root, dir)).filter((n) => existsSync(join(root, dir, n, 'package.json'))).map((n) => `${dir}/${n}`));
    expect(workspaces.length).toBeGreaterThan(12);
    const install = dockerfile.indexOf('RUN npm ci');
    for (const w of workspaces) {
      const at = dockerfile.indexOf(`COPY ${w}/package.json ${w}/`);
      expect(at, `Dockerfile does not copy ${w}/package.json`).toBeGreaterThan(-1);
      expect(at, w).toBeLessThan(install);
    }
  });

  it('builds on Node 20 bookworm-slim, runs as a non-root uid, and enters through the nova command', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "packages/cli/dist/main.js"]');
    expect(dockerfile).toContain('CMD ["up"]');
    // The manifests' runAsUser is the image's user, and every workload runs that image.
    for (const w of [...deployments, job]) expect(w.spec.template.spec.securityContext.runAsUser, w.metadata.name).toBe(1000);
  });
});

describe('deploy: the docs', () => {
  it('document every key of the Secret nova-secrets the manifests read, and how to apply the base', () => {
    const keys = new Set<string>();
    for (const w of [...deployments, job]) for (const e of containerOf(w).env ?? []) if (e.valueFrom?.secretKeyRef) keys.add(e.valueFrom.secretKeyRef.key as string);
    const ops = read('docs/OPERATIONS.md');
    for (const key of keys) expect(ops, `docs/OPERATIONS.md does not name the Secret key ${key}`).toContain(`\`${key}\``);
    expect(read('README.md')).toContain('kubectl apply -k deploy/k8s');
    expect(ops).toContain('deploy/grafana/nova-overview.json');
  });
});

describe('deploy/k8s: the migration Job', () => {
  it('runs `nova migrate` with DATABASE_URL from nova-secrets, outside the base so apply -k never meets an immutable Job', () => {
    expect(job.kind).toBe('Job');
    const c = containerOf(job);
    expect(c.args).toEqual(['migrate']);
    expect(effectiveEnv(job.spec.template.spec).get('DATABASE_URL')).toEqual({ secretKeyRef: { name: 'nova-secrets', key: 'DATABASE_URL' } });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(base.some((o) => o.kind === 'Job')).toBe(false);
    const migrate = parseFile(join(k8sDir, 'migrate/kustomization.yaml'))[0]!;
    expect(migrate.resources).toEqual(['job.yaml']);
    expect(migrate.namespace).toBe(kustomization.namespace);
    expect(migrate.images, 'the Job migrates with the image the base deploys').toEqual(kustomization.images);
  });
});

describe('deploy/k8s: the Ingress', () => {
  const ingresses = ofKind('Ingress');
  const routes = ingresses.flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => ({ ingress: i, path: p.path as string, type: p.pathType as string, service: p.backend.service.name as string, port: p.backend.service.port.name as string }))));
  /** The route ingress-nginx picks for `path` (`:id` and `${…}` segments stand for any value): Exact first, then the longest. */
  const owner = (template: string) => {
    const path = template.replace(/:[a-zA-Z_]+|\$\{[^}]+\}/g, 'x1');
    const matches = (r: (typeof routes)[number]) =>
      r.type === 'Exact' ? path === r.path : r.type === 'Prefix' ? path === r.path || path.startsWith(`${r.path}/`) : new RegExp(`^${r.path}`).test(path);
    return routes.filter(matches).sort((a, b) => Number(b.type === 'Exact') - Number(a.type === 'Exact') || b.path.length - a.path.length)[0];
  };

  /** docs/ARCHITECTURE.md's service table: service -> the HTTP prefixes in its third column. */
  const table = new Map<string, string[]>();
  for (const line of read('docs/ARCHITECTURE.md').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length > 4 && (SERVICE_NAMES as string[]).includes(cells[1]!)) table.set(cells[1]!, [...cells[3]!.matchAll(/`(\/[^`]*)`/g)].map((m) => m[1]!));
  }

  it('routes every HTTP prefix in docs/ARCHITECTURE.md\'s service table to the service that owns it', () => {
    expect([...table.keys()].sort()).toEqual([...SERVICE_NAMES].sort());
    for (const [svc, prefixes] of table) {
      expect(prefixes.length, svc).toBeGreaterThan(0);
      for (const prefix of prefixes) {
        expect(owner(prefix)?.service, `${prefix} -> ${svc}`).toBe(svc);
        expect(owner(prefix)?.port).toBe('http');
      }
    }
    expect(routes.find((r) => r.path === '/.well-known/jwks.json')).toMatchObject({ service: 'auth', type: 'Exact' });
    // Internal endpoints stay inside the cluster.
    for (const path of ['/metrics', '/health', '/ready', '/openapi.json']) expect(owner(path), path).toBeUndefined();
  });

  it('every route a service registers is under a prefix the Ingress sends to that service', () => {
    for (const svc of SERVICE_NAMES) {
      const dir = join(root, 'services', svc, 'src/api/http');
      if (!existsSync(dir)) continue;
      for (const file of yamlOrTs(dir)) {
        for (const [, path] of readFileSync(file, 'utf8').matchAll(/['`](\/(?:api\/v1|cdn|\.well-known)\/[^'`]*)['`]/g)) {
          expect(owner(path!)?.service, `${relative(root, file)}: ${path}`).toBe(svc);
        }
      }
    }
  });

  it('sends WebSockets on /ws to messaging through an Ingress with hour-long timeouts', () => {
    const ws = routes.find((r) => r.path === '/ws')!;
    expect(ws.service).toBe('messaging');
    expect(ws.ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    expect(ws.ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']).toBe('3600');
    expect(routes.filter((r) => r.ingress === ws.ingress)).toHaveLength(1);
  });
});

function yamlOrTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlOrTs(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('deploy/k8s/grpc-certs.sh', () => {
  const out = mkdtempSync(join(tmpdir(), 'nova-grpc-certs-'));
  const servers: GrpcServer[] = [];
  const clients: grpc.Client[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.shutdown(100)));
    rmSync(out, { recursive: true, force: true });
  });

  it('issues every key the Deployments mount: server certificates for the GRPC_ADDR hosts, client certificates carrying the identity', async () => {
    await run('bash', [join(k8sDir, 'grpc-certs.sh'), out]);
    const secretKeys = new Set(readdirSync(out).filter((f) => statSync(join(out, f)).isFile()));
    expect(secretKeys.has('ca.key'), 'the CA key stays out of the Secret').toBe(false);
    const ca = new X509Certificate(readFileSync(join(out, 'ca.crt')));
    for (const d of deployments) {
      const name = d.metadata.name;
      for (const item of d.spec.template.spec.volumes.find((v: any) => v.name === 'grpc-tls').secret.items) expect(secretKeys.has(item.key), `${name}: ${item.key}`).toBe(true);
      const server = new X509Certificate(readFileSync(join(out, `${name}-server.crt`)));
      const host = effectiveEnv(find('Deployment', name === 'auth' ? 'user' : 'auth')!.spec.template.spec).get(`GRPC_ADDR_${name.toUpperCase()}`).split(':')[0];
      expect(server.checkHost(host), `${name}-server.crt names ${host}`).toBe(host);
      expect(server.verify(ca.publicKey)).toBe(true);
      const client = new X509Certificate(readFileSync(join(out, `${name}.crt`)));
      expect(client.subject).toContain(`CN=${name}`);
      expect(client.subjectAltName).toBe(`DNS:${name}.nova.internal`);
      expect(client.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth: identity.ts ignores certificates without it
      expect(client.verify(ca.publicKey)).toBe(true);
    }
  });

  it('lets a pod laid out like the manifests call a peer over mTLS, identified by its certificate', async () => {
    // Two pods' /etc/nova/tls, as the Secret's items project them, and the ConfigMap's paths pointing into them.
    const layout = (svc: string) => {
      const dir = join(out, `pod-${svc}`);
      mkdirSync(dir, { recursive: true });
      const volume = find('Deployment', svc)!.spec.template.spec.volumes.find((v: any) => v.name === 'grpc-tls');
      for (const item of volume.secret.items) copyFileSync(join(out, item.key), join(dir, item.path));
      const mountPath: string = containerOf(find('Deployment', svc)!).volumeMounts.find((m: any) => m.name === 'grpc-tls').mountPath;
      const env = Object.fromEntries(Object.entries(configMap.data as Record<string, string>).map(([k, v]) => [k, v.startsWith(`${mountPath}/`) ? join(dir, v.slice(mountPath.length + 1)) : v]));
      return readConfig(platformSpec, envSource(env));
    };
    const feedPod = layout('feed');
    const metrics = createMetrics({ defaultMetrics: false });
    const server = createGrpcServer({ appEnv: 'production', tls: { enabled: true, caCertPath: feedPod.GRPC_TLS_CA_CERT_PATH, serverCertPath: feedPod.GRPC_TLS_SERVER_CERT_PATH, serverKeyPath: feedPod.GRPC_TLS_SERVER_KEY_PATH, requireClientCert: feedPod.GRPC_TLS_REQUIRE_CLIENT_CERT }, logger: createLogger({ level: 'silent' }), metrics, serviceLabel: 'feed' });
    servers.push(server);
    const json = { requestSerialize: (x: unknown) => Buffer.from(JSON.stringify(x)), requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown, responseSerialize: (x: unknown) => Buffer.from(JSON.stringify(x)), responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
    const definition: grpc.ServiceDefinition = { Ping: { path: '/nova.feed.v1.Probe/Ping', requestStream: false, responseStream: false, originalName: 'ping', ...json } };
    server.addService(definition, { Ping: (_call: unknown, cb: (err: null, res: unknown) => void) => cb(null, { ok: true }) }, { allow: { Ping: ['content'] }, service: 'feed' });
    const port = await server.listen('127.0.0.1', 0);

    const Client = grpc.makeGenericClientConstructor(definition, 'Probe');
    const ping = (caller: string) =>
      new Promise<unknown>((resolve, reject) => {
        const cfg = layout(caller);
        // The client dials feed's GRPC_ADDR host; here that name resolves to 127.0.0.1.
        const host = effectiveEnv(find('Deployment', caller)!.spec.template.spec).get('GRPC_ADDR_FEED').split(':')[0];
        const c = new Client(`127.0.0.1:${port}`, channelCredentials('production', clientTlsFromConfig(cfg)), { 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host });
        clients.push(c);
        (c as any).Ping({}, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
      });
    expect(await ping('content')).toEqual({ ok: true });
    await expect(ping('search')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'search may not call /nova.feed.v1.Probe/Ping' });
  });
});

describe('deploy/grafana/nova-overview.json', () => {
  const dashboard = JSON.parse(read('deploy/grafana/nova-overview.json')) as { schemaVersion: number; templating: { list: any[] }; panels: any[] };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  const exprs: string[] = panels.flatMap((p) => p.targets.map((t: any) => t.expr as string));

  /** Metric names in a PromQL expression: what is left once strings, label sets, ranges, groupings and functions are gone. */
  const FUNCTIONS = new Set(['sum', 'max', 'min', 'avg', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'by', 'without', 'and', 'or', 'unless', 'on', 'ignoring', 'clamp_min', 'clamp_max', 'topk', 'bottomk', 'abs', 'delta', 'deriv', 'le']);
  const metricNames = (expr: string) =>
    expr
      .replace(/"[^"]*"/g, '')
      .replace(/\{[^}]*\}/g, '')
      .replace(/\[[^\]]*\]/g, '')
      .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
      .match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)
      ?.filter((t) => !FUNCTIONS.has(t)) ?? [];

  it('uses only metric names the platform and the feed export (histograms by _bucket, _sum, _count)', async () => {
    const metrics = createMetrics({ defaultMetrics: true });
    feedMetrics(metrics);
    const exported = new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) {
      const histogram = /_(bucket|sum|count)$/.exec(name);
      const family = histogram ? name.slice(0, histogram.index) : name;
      expect(exported.has(family) && (!histogram || ['histogram', 'summary'].includes(exported.get(family)!)), `the dashboard uses ${name}, which nothing exports`).toBe(true);
    }
  });

  it('has queries that parse as PromQL (promtool check rules, with Grafana\'s variables filled in)', async () => {
    // promtool comes with Debian's `prometheus` package; scripts/dev-deps.sh and .ci/run install it.
    const dir = mkdtempSync(join(tmpdir(), 'nova-dashboard-promql-'));
    try {
      const rules = exprs.map((e, i) => `      - record: nova:dashboard_query_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '5m').replaceAll('$service', '.*'))}`);
      writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const check = await run('promtool', ['check', 'rules', 'rules.yml'], { cwd: dir });
      expect(check.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('covers HTTP, gRPC, pools, rate limits, breakers, the outbox, consumers and the feed', () => {
    const used = new Set(exprs.flatMap(metricNames).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    for (const name of [
      'http_requests_total', 'http_request_duration_seconds', 'grpc_requests_total', 'grpc_request_duration_seconds',
      'db_pool_connections', 'db_pool_acquire_duration_seconds', 'db_pool_connection_errors_total',
      'rate_limit_requests_total', 'rate_limit_rejections_total', 'circuit_breaker_state', 'circuit_breaker_failures_total',
      'outbox_oldest_pending_age_seconds', 'outbox_pending_events', 'events_consumed_total', 'events_dead_lettered_total',
      'feed_reads_total', 'feed_fanout_timelines_total', 'feed_fanout_duration_seconds', 'feed_redis_fallbacks_total',
    ]) expect(used, name).toContain(name);
  });

  it('has a data source variable every query uses and a service variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name as string, v]));
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.get('service')).toMatchObject({ type: 'query', includeAll: true, multi: true });
    for (const p of panels) {
      expect(p.datasource.uid, p.title).toBe('${datasource}');
      for (const t of p.targets) expect(t.datasource.uid, p.title).toBe('${datasource}');
    }
    expect(exprs.filter((e) => e.includes('service=~"$service"')).length).toBeGreaterThan(10);
    const ids = dashboard.panels.map((p) => p.id as number);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
