import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../index.js';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('../../../../deploy/prometheus/', import.meta.url));

describe('Prometheus alert rules', () => {
  it('pass promtool check and their unit tests (promtool test rules)', async () => {
    // promtool comes with Debian's `prometheus` package; scripts/dev-deps.sh and .ci/run install it.
    const check = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: dir });
    expect(check.stdout).toContain('SUCCESS');
    const test = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
    expect(test.stdout).toContain('SUCCESS');
  });

  it('only use metrics the platform exports', async () => {
    const exported = new Set((await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
    const rules = readFileSync(`${dir}alerts.yml`, 'utf8');
    const used = new Set([...rules.matchAll(/\b([a-z_]+_(?:total|seconds|connections|state|events))\b/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exported, `alerts.yml uses ${name}`).toContain(name);
  });
});
