import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const TSC = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

/** What tsc said about a type-test file once its `@ts-expect-error` lines were blanked. */
export interface StrippedResult {
  /** The 1-based lines that carried a directive. */
  directiveLines: number[];
  /** The 1-based lines tsc reported errors on, in the stripped file. */
  errorLines: number[];
  output: string;
}

/**
 * Blanks every `@ts-expect-error` line of a type-test file (keeping line numbers), compiles the copy
 * with its package's tsconfig, and returns where tsc reported errors.
 */
export async function compileWithoutDirectives(file: string, packageDir: string): Promise<StrippedResult> {
  const source = await readFile(file, 'utf8');
  const lines = source.split('\n');
  const directiveLines: number[] = [];
  const stripped = lines.map((line, i) => {
    if (!/^\s*\/\/\s*@ts-expect-error/.test(line)) return line;
    directiveLines.push(i + 1);
    return '';
  });
  const tag = `${process.pid}-${Date.now()}`;
  const copy = join(dirname(file), `${basename(file, '.ts')}.stripped-${tag}.ts`);
  const tsconfig = join(packageDir, `tsconfig.stripped-${tag}.json`);
  await writeFile(copy, stripped.join('\n'));
  await writeFile(tsconfig, JSON.stringify({ extends: './tsconfig.json', include: [], files: [relative(packageDir, copy)] }));
  try {
    const run = spawnSync(process.execPath, [TSC, '--noEmit', '--pretty', 'false', '-p', tsconfig], {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    const name = basename(copy).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const errorLines = [...output.matchAll(new RegExp(`${name}\\((\\d+),\\d+\\): error`, 'g'))].map((m) => Number(m[1]));
    return { directiveLines, errorLines: [...new Set(errorLines)].sort((a, b) => a - b), output };
  } finally {
    await rm(copy, { force: true });
    await rm(tsconfig, { force: true });
  }
}
