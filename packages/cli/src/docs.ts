import { describeConfig, platformSpec, SERVICES, type ConfigSpec } from '@nova/platform';
import { ALL_SERVICES } from './registry.js';

const PER_SERVICE = /^(GRPC_ADDR|DB_POOL_MAX)_[A-Z]+$/;

/** The README's configuration table: shared variables, then each service's own. */
export function configTableMarkdown(): string {
  const header = ['| variable | default | meaning |', '|---|---|---|'];
  const shared = Object.fromEntries(Object.entries(platformSpec).filter(([k]) => !PER_SERVICE.test(k))) as ConfigSpec;
  const pools = Object.entries(SERVICES).map(([s, d]) => `${s} ${d.poolMax}`).join(', ');
  const sharedRows = [
    ...describeConfig(shared),
    '| `GRPC_ADDR_<SERVICE>` | this process | `host:port` of a service that runs elsewhere (for example `GRPC_ADDR_AUTH=auth:9090`) |',
    `| \`DB_POOL_MAX_<SERVICE>\` | built-in | pool size of one service; built-in: ${pools} |`,
    '| `<NAME>_FILE` | — | read any variable from a file (mounted secrets) |',
    '| `NOVA_SECRETS_MANAGER_SECRET_ID` | — | read variables from this AWS Secrets Manager secret (a JSON object), at boot |',
    '| `NOVA_SECRETS_MANAGER_ENDPOINT`, `AWS_REGION` | —, `us-east-1` | Secrets Manager endpoint override and region |',
  ];
  const sections: [string, string[]][] = [['All services', sharedRows]];
  for (const s of ALL_SERVICES) if (s.config && Object.keys(s.config).length > 0) sections.push([`${s.name} service`, describeConfig(s.config)]);
  return sections.map(([title, rows]) => [`**${title}**`, '', ...header, ...rows].join('\n')).join('\n\n');
}
