import type { ConfigOf, ConfigSpec } from './spec.js';
import type { ConfigSource } from './source.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates every variable of `spec` at once; throws a ConfigError naming each bad or missing one. */
export function readConfig<S extends ConfigSpec>(spec: S, source: ConfigSource): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, s] of Object.entries(spec)) {
    let raw: string | undefined;
    try {
      raw = source.get(name);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    if (raw === undefined) {
      if (s.required) problems.push(`${name} is required (${s.doc})`);
      else out[name] = s.default;
      continue;
    }
    try {
      out[name] = s.parse(raw);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** Markdown rows (name, default, description) for the README's configuration table. */
export function describeConfig(spec: ConfigSpec): string[] {
  return Object.entries(spec).map(([name, s]) => {
    const def = s.secret ? '(secret)' : s.default === undefined ? (s.required ? '**required**' : '—') : `\`${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}\``;
    return `| \`${name}\` | ${def} | ${s.doc} |`;
  });
}
