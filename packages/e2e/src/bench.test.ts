import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from './repo.js';

// The benchmark harness in its quick mode, so it keeps working; its figures are not asserted here
// (they come from full runs on an idle machine, see the README's performance section).
describe('npm run bench -- --quick', () => {
  it('runs every benchmark and prints its table', () => {
    const run = spawnSync('npm', ['run', 'bench', '--silent', '--', '--quick'], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
      timeout: 480_000,
    });
    const out = `${run.stdout}${run.stderr}`;
    expect(run.status, out.slice(-3000)).toBe(0);
    for (const line of [
      /S1 raw node:http JSON hello\s+\d+/,
      /S-bare Switchyard procedure .*\d\.\d\d \(/,
      /S5 full stack .*\d\.\d\d \(/,
      /S8 batched \/ unbatched: pages per second .*CPU per page \d/,
      /inter-service hop: wrk -> A -> B, contract client with policies\s+\d+/,
      /S6 wrk -> Caddy -> 3 instances of B\s+\d+/,
      /policy stack on the hop: -?\d.*more CPU per request/,
      /policy engine: \+-?\d.*of the hop/,
      /inter-service hop: A, with policies\s+promoted\s+\d+ B\/req, scavenges\s+\d+\.\d\d us\/req/,
      /control \(two clients without policies\), 16 concurrent: the second client/,
      /S9 Redis limiter \d+ decisions\/s vs redis-benchmark EVALSHA \d+/,
      /memory: RSS 5 s after start: auth \d+ MB, notes \d+ MB, activity \d+ MB/,
      /batched, 16 concurrent: throughput with policies/,
      /policy stack, instructions per call \(callgrind.*one call at a time: without \d+k .*with \d+k .*: [+-]\d+\.\d\d%/,
      /S8 in instructions \(callgrind.*batched \d+\.\dk per page, unbatched \d+\.\dk per page \(10 requests\): \d+\.\d\dx/,
    ]) {
      expect(out).toMatch(line);
    }
    // Every scenario answered 2xx only.
    expect(out).not.toContain('non-2xx');
    expect(out).not.toContain('socket errors');
  }, 500_000);
});
