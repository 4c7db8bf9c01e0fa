import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/prototype-modes.ts', import.meta.url));

describe('loading the redis client', () => {
  it('leaves String.prototype, which ioredis puts in dictionary mode, and the other builtin prototypes fast', () => {
    const run = spawnSync(
      process.execPath,
      ['--allow-natives-syntax', '--conditions=@switchyard/source', '--import', 'tsx', FIXTURE],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const { ioredis, runtime } = JSON.parse(run.stdout) as Record<'ioredis' | 'runtime', Record<string, boolean>>;
    // The cause, as of ioredis 6 (`class VerbatimString extends String`): if this changes, the
    // workaround in redis-client.ts may go.
    expect(ioredis.String).toBe(false);
    expect(runtime).toEqual({
      String: true,
      Object: true,
      Array: true,
      Function: true,
      Number: true,
      Promise: true,
      Map: true,
      Set: true,
      RegExp: true,
      Error: true,
    });
  });
});
