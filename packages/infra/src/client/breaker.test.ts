import { TRPCClientError } from '@trpc/client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitState } from '../policies/breaker.js';
import { now } from '../policies/deadline.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

// The breaker waits before a probe on the wall clock (cockatiel reads Date.now()): the tests move
// a fake Date instead of sleeping, while the network and every timer stay real.
const HALF_OPEN_AFTER_MS = 1_500;
const started: Downstream[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await Promise.all(started.splice(0).map((d) => d.service.shutdown('test done')));
});

/** Freezes Date (only Date) at the real time; `vi.advanceTimersByTime(ms)` moves it. */
const freezeDate = () => vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function setup() {
  const downstream = await startDownstream();
  started.push(downstream);
  const registry = new Registry();
  const client = createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url: downstream.address.url,
    registry,
    policies: {
      maxAttempts: 1,
      breaker: { consecutiveFailures: 5, halfOpenAfterMs: HALF_OPEN_AFTER_MS, halfOpenMaxMs: HALF_OPEN_AFTER_MS },
    },
  });
  return { downstream, client, registry };
}

const appCodeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { appCode?: string } | undefined)?.appCode : undefined;
/** How one `work` query ends: 'ok', or the error's appCode. */
const outcomeOf = (client: ReturnType<typeof createServiceClient<typeof downstreamContract>>) =>
  client
    .with()
    .work.query({})
    .then(() => 'ok', appCodeOf);

describe('circuit breaker against a real downstream', () => {
  it('opens after 5 failures, fails fast with no network attempt, probes after its delay, closes on success', async () => {
    const { downstream, client, registry } = await setup();
    // Baseline: a real round trip to the downstream, measured here on this machine's load.
    const roundTrips: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = now();
      await client.with().work.query({});
      roundTrips.push(now() - t0);
    }
    downstream.state.calls = {};
    freezeDate();
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++) {
      expect(await outcomeOf(client)).toBe('UNAVAILABLE');
    }
    expect(client.policies.state).toBe(CircuitState.Open);
    expect(downstream.state.calls.work).toBe(5);

    const durations: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = now();
      const error = await client
        .with()
        .work.query({})
        .catch((e: unknown) => e);
      durations.push(now() - t0);
      expect(appCodeOf(error)).toBe('CIRCUIT_OPEN');
      expect((error as TRPCClientError<never>).data).toMatchObject({ retryable: true, httpStatus: 503 });
    }
    // Failing fast: without the network, well under a real round trip (a ratio, so that a loaded
    // machine slows both alike).
    expect(median(durations)).toBeLessThan(median(roundTrips) / 2);
    expect(downstream.state.calls.work).toBe(5);
    const metrics = await registry.metrics();
    expect(metrics).toContain('switchyard_circuit_breaker_state{target="downstream"} 1');
    expect(metrics).toContain('switchyard_client_rejections_total{target="downstream",reason="circuit_open"} 200');

    // The probe waits at most halfOpenMaxMs (1.5 s here, jitter below it).
    vi.advanceTimersByTime(HALF_OPEN_AFTER_MS);
    downstream.state.mode = 'ok';
    expect(await client.with().work.query({ n: 1 })).toEqual({ ok: true, n: 1 });
    expect(client.policies.state).toBe(CircuitState.Closed);
    expect(downstream.state.calls.work).toBe(6);
    expect(await registry.metrics()).toContain('switchyard_circuit_breaker_state{target="downstream"} 0');
  });

  it('lets one probe through while half-open and fails the others fast', async () => {
    const { downstream, client } = await setup();
    freezeDate();
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++)
      await client
        .with()
        .work.query({})
        .catch(() => undefined);
    expect(client.policies.state).toBe(CircuitState.Open);
    vi.advanceTimersByTime(HALF_OPEN_AFTER_MS);
    downstream.state.mode = 'ok';
    // The probe is still running when the other nine are made (they are made in the same turn).
    downstream.state.delayMs = 200;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        client
          .with()
          .work.query({})
          .then(() => 'ok', appCodeOf),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'CIRCUIT_OPEN')).toHaveLength(9);
    expect(downstream.state.calls.work).toBe(6);
  });

  it('re-opens when the probe fails', async () => {
    const { downstream, client } = await setup();
    freezeDate();
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++)
      await client
        .with()
        .work.query({})
        .catch(() => undefined);
    vi.advanceTimersByTime(HALF_OPEN_AFTER_MS);
    expect(await outcomeOf(client)).toBe('UNAVAILABLE');
    expect(client.policies.state).toBe(CircuitState.Open);
    expect(await outcomeOf(client)).toBe('CIRCUIT_OPEN');
    expect(downstream.state.calls.work).toBe(6);
  });

  it('opens on the failure ratio over its window (never 5 failures in a row), once the window holds the minimum of calls', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: {
        maxAttempts: 1,
        breaker: { consecutiveFailures: 5, failureRatio: 0.5, minimumCalls: 20, windowMs: 60_000, halfOpenAfterMs: 60_000 },
      },
    });
    const call = (mode: 'ok' | 'fail') => {
      downstream.state.mode = mode;
      return client
        .with()
        .work.query({})
        .then(() => 'ok', appCodeOf);
    };
    // Two failures to one success, never more than two failures in a row: 19 calls, under the minimum.
    const outcomes: Array<string | undefined> = [];
    for (let i = 0; i < 19; i++) outcomes.push(await call(i % 3 === 2 ? 'ok' : 'fail'));
    expect(outcomes.filter((o) => o === 'UNAVAILABLE')).toHaveLength(13);
    expect(client.policies.state).toBe(CircuitState.Closed);
    // The 20th call fails: 14 of 20, more than half.
    expect(await call('fail')).toBe('UNAVAILABLE');
    expect(client.policies.state).toBe(CircuitState.Open);
    expect(await call('ok')).toBe('CIRCUIT_OPEN');
    expect(downstream.state.calls.work).toBe(20);
  });

  it('stays closed through 1000 answers of 400/401/403/404/409/429', async () => {
    const { downstream, client } = await setup();
    const statuses = ['400', '401', '403', '404', '409', '429'] as const;
    const seen = new Map<string, number>();
    for (let batch = 0; batch < 50; batch++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client
            .with()
            .refuse.query({ status: statuses[(batch * 20 + i) % statuses.length]! })
            .catch((e: unknown) => (e as TRPCClientError<never>).data as unknown as { httpStatus: number }),
        ),
      );
      for (const r of results) {
        const status = String((r as { httpStatus: number }).httpStatus);
        seen.set(status, (seen.get(status) ?? 0) + 1);
      }
    }
    expect([...seen.keys()].sort()).toEqual(['400', '401', '403', '404', '409', '429']);
    expect(downstream.state.calls.refuse).toBe(1000);
    expect(client.policies.state).toBe(CircuitState.Closed);
    // And it still works.
    expect(await client.with().work.query({})).toEqual({ ok: true });
  });
});

describe('breaker defaults (as the docs give them)', () => {
  it('opens after 5 consecutive failures by default, and the first probe waits about 1 s', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    // Only the retries are turned off: every breaker setting is its default.
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { maxAttempts: 1 },
    });
    freezeDate();
    // The jitter's median: the waits are then the ones the docs name.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    downstream.state.mode = 'fail';
    for (let i = 0; i < 4; i++) await client.with().work.query({}).catch(appCodeOf);
    expect(client.policies.state).toBe(CircuitState.Closed);
    expect(await outcomeOf(client)).toBe('UNAVAILABLE');
    expect(client.policies.state).toBe(CircuitState.Open);
    vi.advanceTimersByTime(800);
    expect(await outcomeOf(client)).toBe('CIRCUIT_OPEN');
    vi.advanceTimersByTime(400);
    expect(await outcomeOf(client)).toBe('UNAVAILABLE');
    expect(downstream.state.calls.work).toBe(6);
  });

  it('doubles the wait before each probe while probes fail, up to 30 s by default', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { maxAttempts: 1 },
    });
    freezeDate();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++) await client.with().work.query({}).catch(appCodeOf);
    expect(client.policies.state).toBe(CircuitState.Open);
    // Each wait: the fake time until a call reaches the downstream again (a failing probe), in
    // steps of 10 ms; the calls before it fail fast.
    const waits: number[] = [];
    for (let probe = 0; probe < 9; probe++) {
      const reached = downstream.state.calls.work!;
      let waited = 0;
      while (downstream.state.calls.work === reached) {
        vi.advanceTimersByTime(10);
        waited += 10;
        expect(waited, `probe ${probe}`).toBeLessThanOrEqual(40_000);
        await client.with().work.query({}).catch(appCodeOf);
      }
      expect(client.policies.state).toBe(CircuitState.Open);
      waits.push(waited);
    }
    // About 1 s at first (decorrelated jitter keeps the second near it too), then doubling until
    // the 30 s cap, which holds.
    expect(waits[0]).toBeGreaterThanOrEqual(800);
    expect(waits[0]).toBeLessThanOrEqual(1_200);
    const growing = waits.slice(1).filter((w) => w < 30_000);
    for (let i = 1; i < growing.length; i++) {
      expect(growing[i]! / growing[i - 1]!, `waits ${waits.join(', ')}`).toBeGreaterThan(1.7);
      expect(growing[i]! / growing[i - 1]!, `waits ${waits.join(', ')}`).toBeLessThan(2.3);
    }
    expect(growing.length).toBeGreaterThanOrEqual(4);
    expect(waits.slice(-2)).toEqual([30_000, 30_000]);
  });

  it('opens on more than 50% failures of at least 20 calls by default', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { maxAttempts: 1 },
    });
    const call = (mode: 'ok' | 'fail') => {
      downstream.state.mode = mode;
      return client
        .with()
        .work.query({})
        .then(() => 'ok', appCodeOf);
    };
    // Two failures to one success (never 5 in a row): 13 of 19 calls failed, under the minimum.
    for (let i = 0; i < 19; i++) await call(i % 3 === 2 ? 'ok' : 'fail');
    expect(client.policies.state).toBe(CircuitState.Closed);
    expect(await call('fail')).toBe('UNAVAILABLE');
    expect(client.policies.state).toBe(CircuitState.Open);
  });
});

describe('call policy defaults (as the docs give them)', () => {
  it('a call has 5 s and 3 attempts by default; the breaker counts every failed attempt', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url });
    const { budgetMs } = await client.with().origin.query({ n: 1 });
    expect(budgetMs).toBeGreaterThan(4_000);
    expect(budgetMs).toBeLessThanOrEqual(5_000);
    downstream.state.mode = 'fail';
    expect(await outcomeOf(client)).toBe('UNAVAILABLE');
    expect(downstream.state.calls.work).toBe(3);
    // The fifth failed attempt opens the circuit: the second call's third attempt is refused.
    expect(await outcomeOf(client)).toBe('CIRCUIT_OPEN');
    expect(downstream.state.calls.work).toBe(5);
  });

  it('runs 64 attempts at once and queues 256 by default, refusing the next', async () => {
    const downstream = await startDownstream();
    started.push(downstream);
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url });
    // Long enough that all 321 calls are made while the first 64 run.
    downstream.state.delayMs = 200;
    const outcomes = await Promise.all(
      Array.from({ length: 321 }, (_, n) =>
        client
          .with()
          .work.query({ n })
          .then(() => 'ok', appCodeOf),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(320);
    expect(outcomes.filter((o) => o === 'BULKHEAD_FULL')).toHaveLength(1);
    expect(downstream.state.calls.work).toBe(320);
  });
});
