import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// `npm test` (scripts/test.mjs) run on throwaway test files: its last line and exit code must say
// what vitest saw, whatever failed (a test, a hook, an error outside any test) or was skipped.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];

function runOn(files: Record<string, string>): { line: string; status: number | null; output: string } {
  const dir = mkdtempSync(join(ROOT, '.test-results', 'throwaway-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } };\n`);
  const result = spawnSync(process.execPath, ['scripts/test.mjs', '--config', join(dir, 'vitest.config.mjs'), '--root', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TEST_DATABASE: 'pglite' },
    timeout: 240_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const lines = result.stdout.trim().split('\n');
  return { line: lines.at(-1) ?? '', status: result.status, output };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const passing = `import { it, expect } from 'vitest';\nit('passes', () => expect(1).toBe(1));\n`;

describe('the test command', () => {
  it('says passed and exits 0 when every test passed', () => {
    const run = runOn({ 'a.test.ts': passing });
    expect([run.line, run.status]).toEqual(['tests: 1 passed, 0 failed', 0]);
    expect(run.output).toMatch(/^group \S+: \d+ s$/m);
  });

  it('counts a failing beforeAll as failed (its tests are skipped) and exits non-zero', () => {
    const run = runOn({
      'a.test.ts': passing,
      'b.test.ts': `import { beforeAll, it } from 'vitest';\nbeforeAll(() => { throw new Error('no database'); });\nit('one', () => {});\nit('two', () => {});\n`,
    });
    expect(run.line).toBe('tests: 1 passed, 3 failed (1 suites failed outside their tests, 2 skipped)');
    expect(run.status).toBe(1);
  });

  it('fails the run on a skipped test and on an error outside any test', () => {
    const skipped = runOn({ 'a.test.ts': passing, 'b.test.ts': `import { it } from 'vitest';\nit.skip('later', () => {});\n` });
    expect([skipped.line, skipped.status]).toEqual(['tests: 1 passed, 1 failed (1 skipped)', 1]);
    const unhandled = runOn({
      'a.test.ts': `import { it } from 'vitest';\nit('leaves a rejection behind', () => { void Promise.reject(new Error('late')); });\n`,
    });
    expect(unhandled.status).toBe(1);
    expect(unhandled.line).toMatch(/^tests: 1 passed, [1-9]\d* failed \(.*errors outside tests.*\)$/);
  });
});
