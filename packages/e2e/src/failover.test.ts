import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CADDYFILE, signUp, startStack, type Gateway, type Instance, type Stack } from './stack.js';
import { sleep, startLoad, type CallRecord } from './load.js';

// Each scenario runs 3 rounds, one per notes instance; every round must hold.
const ROUNDS = 3;
const CONCURRENCY = 8;
const DRAIN_DELAY_MS = 2_500;
const SHUTDOWN_TIMEOUT_MS = 10_000;

let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({
    env: {
      DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // Thousands of calls a minute from one user: above the default per-user limit.
      RATE_LIMIT_POINTS: '1000000',
    },
  });
  token = await signUp(stack.gateway.url, 'failover@example.com', 'no request lost 1');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const failed = (calls: CallRecord[], kind?: CallRecord['kind']) => calls.filter((c) => c.appCode && (!kind || c.kind === kind));
const served = (instance: Instance) => instance.current.logLines().filter((line) => line.msg === 'call').length;
const summary = (calls: CallRecord[]) =>
  failed(calls)
    .slice(0, 5)
    .map((c) => `${c.kind} ${c.appCode}: ${c.message}`)
    .join('\n');

/** Restarts an instance and waits until the gateway routes to it again. */
async function restartAndRejoin(instance: Instance) {
  const before = served(instance);
  await instance.restart();
  // Active checks run every second: the instance gets traffic after its readiness passed.
  await sleep(1_500);
  return before;
}

/**
 * SIGKILL to one notes instance under load, then its restart. Returns what a round saw, for the
 * assertions (and for the negative control, which expects them to fail).
 */
async function killRound(gateway: Gateway, instance: Instance) {
  const load = startLoad({ gatewayUrl: gateway.url, token, concurrency: CONCURRENCY });
  await sleep(1_000);
  const killedAt = performance.now();
  instance.current.signal('SIGKILL');
  await instance.current.exited;
  const goneAt = performance.now();
  await sleep(2_000);
  const restarted = await instance.restart();
  const readyAt = performance.now();
  await sleep(3_000);
  const calls = await load.stop();
  const sinceReady = calls.filter((c) => c.start > readyAt + 1_500);
  const times = restarted.logLines();
  const timeOf = (line: Record<string, unknown> | undefined) => (line ? new Date(line.time as string | number).getTime() : undefined);
  const listeningAt = timeOf(times.find((l) => String(l.msg).endsWith('listening')))!;
  const firstCallAt = timeOf(times.find((l) => l.msg === 'call'));
  // In flight while it died: started before its exit was seen, not finished when the signal went.
  // Counted over every instance, so an upper bound of what was in flight on the killed one.
  const during = calls.filter((c) => c.start < goneAt && c.end > killedAt);
  const inFlight = {
    query: during.filter((c) => c.kind === 'query').length,
    mutation: during.filter((c) => c.kind === 'mutation').length,
  };
  return {
    calls,
    inFlight,
    killedAt,
    failedQueries: failed(calls, 'query'),
    failedMutations: failed(calls, 'mutation'),
    lateFailures: failed(calls).filter((c) => c.end > killedAt + 1_000),
    // Calls that started well after the instance was gone were never on it: none may fail.
    failedAfterGone: failed(calls).filter((c) => c.start > goneAt + 100),
    restartedCalls: restarted.logLines().filter((l) => l.msg === 'call').length,
    sinceReady: sinceReady.length,
    listeningAt,
    firstCallAt,
  };
}

/** What the SIGKILL scenario requires; empty when it holds. */
function violations(r: Awaited<ReturnType<typeof killRound>>): string[] {
  const found: string[] = [];
  if (r.failedQueries.length > 0) found.push(`${r.failedQueries.length} failed queries`);
  if (r.failedMutations.length > r.inFlight.mutation)
    found.push(`${r.failedMutations.length} failed mutations > ${r.inFlight.mutation} in flight`);
  const notUnknown = r.failedMutations.filter((c) => c.appCode !== 'OUTCOME_UNKNOWN');
  if (notUnknown.length > 0) found.push(`${notUnknown.length} failed mutations not OUTCOME_UNKNOWN`);
  if (r.lateFailures.length > 0) found.push(`${r.lateFailures.length} failures more than 1 s after the kill`);
  if (r.failedAfterGone.length > 0) found.push(`${r.failedAfterGone.length} failures of calls started after it was gone`);
  return found;
}

describe('failover through the gateway, under load', () => {
  it('SIGTERM to a notes instance: 0 failed requests, and it exits 0 within its drain time plus deadline', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const instance = stack.notes[round]!;
      const load = startLoad({ gatewayUrl: stack.gateway.url, token, concurrency: CONCURRENCY });
      await sleep(1_000);
      const servedBefore = served(instance);
      const signalledAt = performance.now();
      instance.current.signal('SIGTERM');
      const code = await instance.current.exited;
      const exitedAfterMs = performance.now() - signalledAt;
      await sleep(500);
      const calls = await load.stop();

      console.log(`SIGTERM round ${round + 1}: ${calls.length} calls, ${failed(calls).length} failed, exit ${code} after ${Math.round(exitedAfterMs)} ms`);
      expect(failed(calls), `round ${round + 1}:\n${summary(calls)}`).toHaveLength(0);
      expect(code, `round ${round + 1}`).toBe(0);
      expect(exitedAfterMs).toBeLessThan(DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS);
      expect(exitedAfterMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS - 50);
      expect(served(instance)).toBeGreaterThan(servedBefore); // it served while draining
      expect(calls.length).toBeGreaterThan(200);
      await restartAndRejoin(instance);
    }
  }, 120_000);

  it('SIGKILL to a notes instance: 0 failed queries, failed mutations only those in flight (OUTCOME_UNKNOWN), none after 1 s; restarted, it gets requests only once ready', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const r = await killRound(stack.gateway, stack.notes[round]!);
      const label = `round ${round + 1}: ${r.calls.length} calls, in flight at the kill ${JSON.stringify(r.inFlight)}, failed mutations ${r.failedMutations.length}\n${summary(r.calls)}`;
      console.log(`SIGKILL ${label.split('\n')[0]}`);
      expect(violations(r), label).toEqual([]);
      // The restarted process: no call before it was listening and ready, then its share.
      expect(r.firstCallAt).toBeDefined();
      expect(r.firstCallAt!).toBeGreaterThanOrEqual(r.listeningAt);
      expect(r.restartedCalls, label).toBeGreaterThan(r.sinceReady / 6);
      expect(r.calls.length).toBeGreaterThan(300);
    }
  }, 120_000);

  it('negative control: without passive health checks the same SIGKILL loses mutations that were not in flight', async () => {
    const caddyfile = join(stack.scratch, 'Caddyfile.no-passive');
    const original = await readFile(CADDYFILE, 'utf8');
    const variant = original.replace(/^\s*(fail_duration|max_fails)\b.*$/gm, '');
    expect(variant).not.toBe(original);
    await writeFile(caddyfile, variant);
    const gateway = await stack.startGateway(caddyfile);
    try {
      const r = await killRound(gateway, stack.notes[0]!);
      console.log(
        `SIGKILL without passive checks: ${r.calls.length} calls, in flight at the kill ${JSON.stringify(r.inFlight)}, failed mutations ${r.failedMutations.length}, failed queries ${r.failedQueries.length}`,
      );
      const found = violations(r);
      console.log(`  violations: ${found.join('; ')}`);
      expect(found.length).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
      await rm(caddyfile, { force: true });
    }
  }, 60_000);

  it('Redis stopped: readiness stays 200 on every instance and the gateway keeps every upstream', async () => {
    await stack.redis.kill();
    try {
      await sleep(1_500); // a few health-check intervals
      for (const instance of stack.instances) {
        const res = await fetch(`${instance.url}/ready`).catch((err: unknown) => {
          throw new Error(`${instance.name} on ${instance.url} did not answer (${String(err)}):\n${instance.current.output().slice(-3000)}`);
        });
        expect(res.status, instance.name).toBe(200);
      }
      const before = stack.notes.map(served);
      const load = startLoad({ gatewayUrl: stack.gateway.url, token, concurrency: 4, maxCalls: 600 });
      await sleep(2_000);
      const calls = await load.stop();
      expect(failed(calls, 'query'), summary(calls)).toHaveLength(0);
      const after = stack.notes.map(served);
      const total = after.reduce((sum, n, i) => sum + n - before[i]!, 0);
      for (let i = 0; i < stack.notes.length; i++) expect(after[i]! - before[i]!).toBeGreaterThan(total / 6);
    } finally {
      await stack.redis.restart();
    }
  }, 60_000);
});
