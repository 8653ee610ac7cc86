import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('service boundaries (lint)', () => {
  it('forbids a service from importing another service, by package or by path', async () => {
    const byPackage = await lint('services/feed/src/x.ts', "import { contentService } from '@nova/content';\nexport const a = contentService;\n");
    expect(byPackage.join()).toContain('services/feed may not import another service');
    const byPath = await lint('services/feed/src/domain/x.ts', "import { m } from '../../../content/src/db/migrations/index.js';\nexport const a = m;\n");
    expect(byPath.join()).toContain("may not import another service's files");
  });

  it('lets integration tests start a neighbouring service through its package, never its internals', async () => {
    expect(await lint('services/feed/tests/x.test.ts', "import { contentService } from '@nova/content';\nexport const a = contentService;\n")).toEqual([]);
    const internals = await lint('services/feed/tests/x.test.ts', "import { m } from '../../content/src/db/migrations/index.js';\nexport const a = m;\n");
    expect(internals.join()).toContain("may not import another service's files");
  });

  it('allows the platform, the contracts and the service\'s own code', async () => {
    const ok = await lint(
      'services/feed/src/domain/x.ts',
      "import { newId } from '@nova/platform';\nimport { eventsV1 } from '@nova/proto';\nimport { y } from '../db/y.js';\nexport const a = [newId, eventsV1, y];\n",
    );
    expect(ok).toEqual([]);
  });
});
