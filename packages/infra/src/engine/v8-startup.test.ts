import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/prototype-modes.ts', import.meta.url));
const ALL_FAST = Object.fromEntries(
  ['String', 'Object', 'Array', 'Function', 'Number', 'Promise', 'Map', 'Set', 'RegExp', 'Error'].map((name) => [name, true]),
);

describe('the V8 start-up step', () => {
  it('is needed (ioredis leaves String.prototype slow), is no side effect of an import, and leaves every builtin prototype fast', () => {
    const run = spawnSync(
      process.execPath,
      ['--allow-natives-syntax', '--conditions=@switchyard/source', '--import', 'tsx', FIXTURE],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const { ioredis, loaded, started } = JSON.parse(run.stdout) as Record<
      'ioredis' | 'loaded' | 'started',
      Record<string, boolean>
    >;
    // The cause, with the pinned ioredis: when this fails, the step can go.
    expect(ioredis.String).toBe(false);
    // Loading the runtime changes nothing by itself.
    expect(loaded.String).toBe(false);
    expect(started).toEqual(ALL_FAST);
  });
});
