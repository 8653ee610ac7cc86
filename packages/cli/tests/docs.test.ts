import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTableMarkdown } from '../src/docs.js';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

describe('docs stay true', () => {
  it('the README configuration table is the one the config specs produce (npm run docs:config)', () => {
    const readme = read('README.md');
    const block = readme.slice(readme.indexOf('<!-- config-table:start -->') + '<!-- config-table:start -->'.length, readme.indexOf('<!-- config-table:end -->')).trim();
    expect(block).toBe(configTableMarkdown());
  });

  it('the README names the two commands and every doc it links exists', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    for (const [, link] of readme.matchAll(/\]\((docs\/[^)]+)\)/g)) expect(() => read(link!)).not.toThrow();
  });
});
