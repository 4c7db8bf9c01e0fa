import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileWithoutDirectives } from './expect-errors.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

async function typeTestFiles(): Promise<Array<{ file: string; packageDir: string }>> {
  const found: Array<{ file: string; packageDir: string }> = [];
  for (const group of ['apps', 'packages', 'examples']) {
    for (const pkg of await readdir(join(REPO, group))) {
      const src = join(REPO, group, pkg, 'src');
      const entries = await readdir(src, { recursive: true }).catch(() => [] as string[]);
      for (const entry of entries) {
        if (entry.endsWith('.type-test.ts')) found.push({ file: join(src, entry), packageDir: dirname(src) });
      }
    }
  }
  return found;
}

const files = await typeTestFiles();

describe('type tests', () => {
  it('exist for the contracts and for implement()', () => {
    const names = files.map((f) => f.file.slice(REPO.length));
    expect(names).toEqual(
      expect.arrayContaining([
        'packages/api-contracts/src/type-tests/client.type-test.ts',
        'packages/infra/src/trpc/implement.type-test.ts',
        'examples/list-notes/src/mistakes.type-test.ts',
      ]),
    );
  });

  it.each(files.map((f) => [f.file.slice(REPO.length), f] as const))(
    '%s fails to compile, on the line under each directive, once its @ts-expect-error lines are removed',
    async (_name, { file, packageDir }) => {
      const result = await compileWithoutDirectives(file, packageDir);
      expect(result.directiveLines.length).toBeGreaterThan(0);
      // Every directive guards an error on the very next line, and there are no other errors.
      expect(result.errorLines, result.output).toEqual(result.directiveLines.map((line) => line + 1));
    },
    120_000,
  );
});
