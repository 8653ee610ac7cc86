// Prints the README's configuration table from the config specs (platform + every service with its own).
// `npm run docs:config` rewrites the block between the markers in README.md; a test keeps them in sync.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../packages/cli/dist/docs.js';

const table = configTableMarkdown();
if (process.argv.includes('--write')) {
  const path = new URL('../README.md', import.meta.url);
  const readme = readFileSync(path, 'utf8');
  const start = '<!-- config-table:start -->';
  const end = '<!-- config-table:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error('README.md lacks the config-table markers');
  writeFileSync(path, `${readme.slice(0, i + start.length)}\n${table}\n${readme.slice(j)}`);
  console.log('README.md configuration table updated');
} else {
  console.log(table);
}
