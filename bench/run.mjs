#!/usr/bin/env node
// Runs Nova's benchmarks against the built packages (run `npm run build` first; `npm run bench` does).
//
//   node bench/run.mjs                 every benchmark
//   node bench/run.mjs http-stack      one (or several) by name
//   node bench/run.mjs --list          names and descriptions
//
// Progress goes to stderr; stdout gets a table and, as its last line, a JSON summary.
// To add a benchmark: write bench/<name>.mjs (see bench/README.md) and add one line to BENCHMARKS.
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatTable } from './lib/format.mjs';

const BENCHMARKS = {
  'rate-limiter': () => import('./rate-limiter.mjs'),
  'http-stack': () => import('./http-stack.mjs'),
  'auth-login': () => import('./auth-login.mjs'),
  'auth-verify': () => import('./auth-verify.mjs'),
  'user-followers': () => import('./user-followers.mjs'),
  'user-follow': () => import('./user-follow.mjs'),
  'content-create-post': () => import('./content-create-post.mjs'),
  'content-get-post': () => import('./content-get-post.mjs'),
  'feed-read': () => import('./feed-read.mjs'),
  'feed-fanout': () => import('./feed-fanout.mjs'),
  'messaging-fanout': () => import('./messaging-fanout.mjs'),
  'e2ee-keys': () => import('./e2ee-keys.mjs'),
  'e2ee-envelopes': () => import('./e2ee-envelopes.mjs'),
};

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

async function main(argv) {
  if (argv.includes('--list') || argv.includes('--help') || argv.includes('-h')) {
    for (const [name, load] of Object.entries(BENCHMARKS)) console.log(`${name.padEnd(16)} ${(await load()).description}`);
    return 0;
  }
  const unknown = argv.filter((a) => !(a in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    return 2;
  }
  const selected = argv.length > 0 ? [...new Set(argv)] : Object.keys(BENCHMARKS);

  const started = performance.now();
  const summary = {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    loadavg1m: Math.round(loadavg()[0] * 100) / 100,
    benchmarks: [],
  };
  const rows = [];
  let failed = 0;
  for (const name of selected) {
    const t0 = performance.now();
    log(`${name}: starting`);
    try {
      const mod = await BENCHMARKS[name]();
      const result = await mod.run({ log: (msg) => log(`${name}: ${msg}`) });
      const seconds = round((performance.now() - t0) / 1000, 1);
      for (const row of result.rows) rows.push({ benchmark: name, ...row });
      summary.benchmarks.push({ name, seconds, ...result });
      log(`${name}: done in ${seconds} s`);
    } catch (err) {
      failed++;
      const message = err instanceof Error ? err.message : String(err);
      log(`${name}: FAILED: ${err instanceof Error ? err.stack : message}`);
      summary.benchmarks.push({ name, error: message });
      rows.push({ benchmark: name, case: 'FAILED', note: message.split('\n')[0] });
    }
  }
  summary.seconds = round((performance.now() - started) / 1000, 1);
  summary.ok = failed === 0;

  console.log(formatTable(rows));
  console.log(JSON.stringify(summary));
  return failed === 0 ? 0 : 1;
}

function round(n, digits) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

process.exitCode = await main(process.argv.slice(2));
