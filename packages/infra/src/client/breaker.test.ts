import { TRPCClientError } from '@trpc/client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitState } from '../policies/breaker.js';
import { now } from '../policies/deadline.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

// Long enough that 200 fast failures finish before the first probe on a loaded 2-core machine.
const HALF_OPEN_AFTER_MS = 1_500;
const started: Downstream[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.service.shutdown('test done')));
});

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

describe('circuit breaker against a real downstream', () => {
  it('opens after 5 failures, fails fast with no network attempt, probes after its delay, closes on success', async () => {
    const { downstream, client, registry } = await setup();
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++) {
      expect(
        appCodeOf(
          await client
            .with()
            .work.query({})
            .catch((e: unknown) => e),
        ),
      ).toBe('UNAVAILABLE');
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
    durations.sort((a, b) => a - b);
    const p99 = durations[Math.floor(durations.length * 0.99)]!;
    expect(p99).toBeLessThan(5);
    expect(downstream.state.calls.work).toBe(5);
    const metrics = await registry.metrics();
    expect(metrics).toContain('switchyard_circuit_breaker_state{target="downstream"} 1');
    expect(metrics).toContain('switchyard_client_rejections_total{target="downstream",reason="circuit_open"} 200');

    await new Promise((resolve) => setTimeout(resolve, HALF_OPEN_AFTER_MS + 50));
    downstream.state.mode = 'ok';
    expect(await client.with().work.query({ n: 1 })).toEqual({ ok: true, n: 1 });
    expect(client.policies.state).toBe(CircuitState.Closed);
    expect(downstream.state.calls.work).toBe(6);
    expect(await registry.metrics()).toContain('switchyard_circuit_breaker_state{target="downstream"} 0');
  });

  it('lets one probe through while half-open and fails the others fast', async () => {
    const { downstream, client } = await setup();
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++)
      await client
        .with()
        .work.query({})
        .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, HALF_OPEN_AFTER_MS + 50));
    downstream.state.mode = 'ok';
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
    downstream.state.mode = 'fail';
    for (let i = 0; i < 5; i++)
      await client
        .with()
        .work.query({})
        .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, HALF_OPEN_AFTER_MS + 50));
    expect(
      appCodeOf(
        await client
          .with()
          .work.query({})
          .catch((e: unknown) => e),
      ),
    ).toBe('UNAVAILABLE');
    expect(client.policies.state).toBe(CircuitState.Open);
    expect(
      appCodeOf(
        await client
          .with()
          .work.query({})
          .catch((e: unknown) => e),
      ),
    ).toBe('CIRCUIT_OPEN');
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
