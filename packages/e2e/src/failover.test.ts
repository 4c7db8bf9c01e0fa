import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '@switchyard/infra/testing';
import { signUp } from './accounts.js';
import type { Gateway } from './gateway.js';
import { CADDYFILE } from './repo.js';
import type { Instance } from './services.js';
import { startStack, type Stack } from './stack.js';
import { startLoad, type CallRecord, type Load } from './load.js';

// Each scenario runs 3 rounds, one per notes instance; every round must hold. The figures
// asserted come from a load whose calls are one attempt each (no client retries): they say what
// Caddy and the services do. A second, smaller load through the mesh client's retries runs
// beside it; its figures are printed.
const ROUNDS = 3;
const CONCURRENCY = 8;
const RETRYING_CONCURRENCY = 3;
const DRAIN_DELAY_MS = 2_500;
const SHUTDOWN_TIMEOUT_MS = 10_000;
/** Calls made before a signal: every instance is serving and the gateway's connections are warm. */
const WARM_CALLS = 100;
/** How long a killed instance stays down under load before its restart: the scenario's length. */
const DOWNTIME_MS = 3_000;
/**
 * Calls in flight on a killed instance fail as their connections reset, within milliseconds, and
 * the passive check then takes the instance out. A failure later than this means the gateway
 * kept sending to the dead instance; the bound leaves room for a loaded 2-core machine and stays
 * under DOWNTIME_MS, so a gateway that never notices still fails it.
 */
const FAILURE_WINDOW_MS = 2_000;

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
const figures = (calls: CallRecord[]) =>
  `${calls.length} calls, ${failed(calls, 'query').length} failed queries, ${failed(calls, 'mutation').length} failed mutations`;

/** The asserted load (one attempt per call) and the printed one (the mesh client's retries), together. */
function startLoads(gateway: Gateway) {
  return {
    plain: startLoad({ gatewayUrl: gateway.url, token, concurrency: CONCURRENCY, clientRetries: false }),
    retrying: startLoad({ gatewayUrl: gateway.url, token, concurrency: RETRYING_CONCURRENCY, clientRetries: true }),
  };
}

const underWay = (load: Load) => pollUntil('the load under way', () => load.calls.length >= WARM_CALLS, { timeoutMs: 30_000 });
const callsSince = (load: Load, at: number, count: number, what: string) =>
  pollUntil(what, () => load.calls.filter((c) => c.start > at).length >= count, { timeoutMs: 60_000 });

/** Waits until the gateway routes to `instance`'s current process (its active check passed). */
async function rejoined(instance: Instance): Promise<void> {
  await pollUntil(
    `the gateway routing to ${instance.url} again`,
    async () => {
      await fetch(`${stack.gateway.url}/api/notes/trpc/list?input=${encodeURIComponent('{"json":{}}')}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return served(instance) > 0;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

/**
 * SIGKILL to one notes instance under load, then its restart. Returns what a round saw, for the
 * assertions (and for the negative control, which expects them to fail).
 */
async function killRound(gateway: Gateway, instance: Instance) {
  const loads = startLoads(gateway);
  await underWay(loads.plain);
  const killedAt = performance.now();
  instance.current.signal('SIGKILL');
  await instance.current.exited;
  const goneAt = performance.now();
  // Deliberate: the scenario keeps the instance down this long under load.
  await sleep(DOWNTIME_MS);
  const restarted = await instance.restart();
  // Back in rotation once its readiness passed an active check: then it must take its share.
  await pollUntil('the restarted instance serving', () => restarted.logLines().some((l) => l.msg === 'call'), {
    timeoutMs: 15_000,
  });
  const rejoinedAt = performance.now();
  const servedAtRejoin = stack.notes.map(served);
  await callsSince(loads.plain, rejoinedAt, 300, 'calls after the restarted instance rejoined');
  const servedSince = stack.notes.map((n, i) => served(n) - servedAtRejoin[i]!);
  const [calls, retried] = await Promise.all([loads.plain.stop(), loads.retrying.stop()]);
  const times = restarted.logLines();
  const timeOf = (line: Record<string, unknown> | undefined) =>
    line ? new Date(line.time as string | number).getTime() : undefined;
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
    retried,
    inFlight,
    killedAt,
    failedQueries: failed(calls, 'query'),
    failedMutations: failed(calls, 'mutation'),
    lateFailures: failed(calls).filter((c) => c.end > killedAt + FAILURE_WINDOW_MS),
    // Calls that started well after the instance was gone were never on it: none may fail.
    failedAfterGone: failed(calls).filter((c) => c.start > goneAt + 100),
    restartedShare: servedSince[stack.notes.indexOf(instance)]! / servedSince.reduce((sum, n) => sum + n, 0),
    listeningAt,
    firstCallAt,
  };
}

/** What the SIGKILL scenario requires of the gateway and the services; empty when it holds. */
function violations(r: Awaited<ReturnType<typeof killRound>>): string[] {
  const found: string[] = [];
  if (r.failedQueries.length > 0) found.push(`${r.failedQueries.length} failed queries`);
  if (r.failedMutations.length > r.inFlight.mutation)
    found.push(`${r.failedMutations.length} failed mutations > ${r.inFlight.mutation} in flight`);
  const notUnknown = r.failedMutations.filter((c) => c.appCode !== 'OUTCOME_UNKNOWN');
  if (notUnknown.length > 0) found.push(`${notUnknown.length} failed mutations not OUTCOME_UNKNOWN`);
  if (r.lateFailures.length > 0) found.push(`${r.lateFailures.length} failures more than ${FAILURE_WINDOW_MS} ms after the kill`);
  if (r.failedAfterGone.length > 0) found.push(`${r.failedAfterGone.length} failures of calls started after it was gone`);
  return found;
}

describe('failover through the gateway, under load (calls without client retries)', () => {
  it('SIGTERM to a notes instance: 0 failed requests, and it exits 0 within its drain time plus deadline', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const instance = stack.notes[round]!;
      const loads = startLoads(stack.gateway);
      await underWay(loads.plain);
      const servedBefore = served(instance);
      const signalledAt = performance.now();
      instance.current.signal('SIGTERM');
      const code = await instance.current.exited;
      const exitedAt = performance.now();
      const exitedAfterMs = exitedAt - signalledAt;
      await callsSince(loads.plain, exitedAt, 50, 'calls after the instance exited');
      const [calls, retried] = await Promise.all([loads.plain.stop(), loads.retrying.stop()]);

      console.log(
        `SIGTERM round ${round + 1}: without client retries ${figures(calls)}; with retries ${figures(retried)}; exit ${code} after ${Math.round(exitedAfterMs)} ms`,
      );
      expect(failed(calls), `round ${round + 1}:\n${summary(calls)}`).toHaveLength(0);
      expect(code, `round ${round + 1}`).toBe(0);
      expect(exitedAfterMs).toBeLessThan(DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS);
      expect(exitedAfterMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS - 50);
      expect(served(instance)).toBeGreaterThan(servedBefore); // it served while draining
      // The drain ran under load: calls kept coming while the instance drained.
      expect(calls.filter((c) => c.start > signalledAt && c.start < exitedAt).length).toBeGreaterThan(50);
      await instance.restart();
      await rejoined(instance);
    }
  }, 180_000);

  it('SIGKILL to a notes instance: 0 failed queries, failed mutations only those in flight (OUTCOME_UNKNOWN), none later; restarted, it gets requests only once ready', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const r = await killRound(stack.gateway, stack.notes[round]!);
      const label = `round ${round + 1}: without client retries ${figures(r.calls)}, in flight at the kill ${JSON.stringify(r.inFlight)}; with retries ${figures(r.retried)}\n${summary(r.calls)}`;
      console.log(`SIGKILL ${label.split('\n')[0]}`);
      expect(violations(r), label).toEqual([]);
      // The restarted process: no call before it was listening and ready, then its share (a
      // third of 3 instances; at least a sixth).
      expect(r.firstCallAt).toBeDefined();
      expect(r.firstCallAt!).toBeGreaterThanOrEqual(r.listeningAt);
      expect(r.restartedShare, label).toBeGreaterThan(1 / 6);
    }
  }, 240_000);

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
        `SIGKILL without passive checks: without client retries ${figures(r.calls)}, in flight at the kill ${JSON.stringify(r.inFlight)}; with retries ${figures(r.retried)}`,
      );
      const found = violations(r);
      console.log(`  violations: ${found.join('; ')}`);
      expect(found.length).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
      await rm(caddyfile, { force: true });
    }
  }, 90_000);

  it('Redis stopped: readiness stays 200 on every instance and the gateway keeps every upstream', async () => {
    await stack.redis.kill();
    try {
      // Every instance has noticed (its readiness body says so) and still answers 200.
      const statuses = new Set<number>();
      await pollUntil(
        'every instance reporting Redis down',
        async () => {
          const reports = await Promise.all(
            stack.instances.map(async (instance) => {
              const res = await fetch(`${instance.url}/ready`);
              statuses.add(res.status);
              return ((await res.json()) as { dependencies: Record<string, string> }).dependencies.redis;
            }),
          );
          return reports.every((state) => state === 'down');
        },
        { timeoutMs: 15_000 },
      );
      expect([...statuses]).toEqual([200]);
      const before = stack.notes.map(served);
      const downSince = performance.now();
      const load = startLoad({ gatewayUrl: stack.gateway.url, token, concurrency: 4, clientRetries: false });
      // Deliberate: the load spans two active health checks (1 s apart) after every instance saw
      // Redis down, so a readiness that failed on it would have taken instances out meanwhile.
      await pollUntil(
        '300 calls over two health-check intervals',
        () => load.calls.length >= 300 && performance.now() - downSince > 2_000,
        {
          timeoutMs: 60_000,
        },
      );
      const calls = await load.stop();
      console.log(`Redis stopped: ${figures(calls)}`);
      expect(failed(calls, 'query'), summary(calls)).toHaveLength(0);
      const after = stack.notes.map(served);
      const total = after.reduce((sum, n, i) => sum + n - before[i]!, 0);
      for (let i = 0; i < stack.notes.length; i++) expect(after[i]! - before[i]!).toBeGreaterThan(total / 6);
    } finally {
      await stack.redis.restart();
    }
  }, 90_000);
});
