import { fileURLToPath } from 'node:url';
import { TRPCClientError } from '@trpc/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { now } from '../policies/deadline.js';
import { testContract } from '../server/fixtures/test-contract.js';
import { spawnService, type SpawnedService } from '../testing/spawn-service.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

const appCodeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { appCode?: string } | undefined)?.appCode : undefined;

describe('a hanging downstream (process paused with SIGSTOP)', () => {
  let paused: SpawnedService;
  beforeAll(async () => {
    paused = await spawnService({
      command: [
        process.execPath,
        '--conditions=@switchyard/source',
        '--import',
        'tsx',
        fileURLToPath(new URL('../server/fixtures/test-service.ts', import.meta.url)),
      ],
      cwd: process.cwd(),
      env: { HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', DRAIN_DELAY_MS: '0' },
    });
  });
  afterAll(async () => {
    paused.signal('SIGCONT');
    paused.signal('SIGKILL');
    await paused.exited;
  });
  afterEach(() => paused.signal('SIGCONT'));

  it('the per-try timeout fires within 10% of its value', async () => {
    const client = createServiceClient({
      target: 'paused',
      contract: testContract,
      url: paused.url,
      policies: { perTryTimeoutMs: 300, timeoutMs: 5_000, maxAttempts: 1, breaker: false },
    });
    expect(await client.with().slow.query({ ms: 0 })).toMatchObject({ waitedMs: expect.any(Number) });
    paused.signal('SIGSTOP');
    const elapsed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = now();
      const error = await client
        .with()
        .slow.query({ ms: 0 })
        .catch((e: unknown) => e);
      elapsed.push(now() - t0);
      expect(appCodeOf(error)).toBe('DEADLINE_EXCEEDED');
    }
    // Within 10% of 300 ms (libuv schedules timers from its cached loop time, so one can fire a
    // few ms early by the wall clock).
    for (const ms of elapsed) {
      expect(ms).toBeGreaterThanOrEqual(270);
      expect(ms).toBeLessThan(330);
    }
  });

  it('retries within the overall deadline and never exceeds it', async () => {
    const client = createServiceClient({
      target: 'paused',
      contract: testContract,
      url: paused.url,
      policies: { perTryTimeoutMs: 250, timeoutMs: 700, maxAttempts: 5, breaker: false, backoff: { baseMs: 10, capMs: 20 } },
    });
    let retries = 0;
    client.policies.events.onRetry.addListener(() => retries++);
    paused.signal('SIGSTOP');
    const t0 = now();
    const error = await client
      .with()
      .slow.query({ ms: 0 })
      .catch((e: unknown) => e);
    const ms = now() - t0;
    expect(appCodeOf(error)).toBe('DEADLINE_EXCEEDED');
    expect(retries).toBeGreaterThanOrEqual(2);
    expect(ms).toBeGreaterThanOrEqual(650);
    // The budget itself is never extended; what is over 700 ms is timers firing late on a busy machine.
    expect(ms).toBeLessThan(700 + 40);
  });

  it('an inbound deadline bounds outbound calls, and a spent one fails fast without the network', async () => {
    const client = createServiceClient({
      target: 'paused',
      contract: testContract,
      url: paused.url,
      policies: { timeoutMs: 5_000, maxAttempts: 1, breaker: false },
    });
    paused.signal('SIGSTOP');
    const ctx = {
      requestId: 'deadline-test-0001',
      deadlineAt: now() + 200,
      otel: (await import('@opentelemetry/api')).ROOT_CONTEXT,
    };
    const t0 = now();
    expect(
      appCodeOf(
        await client
          .with(ctx)
          .slow.query({ ms: 0 })
          .catch((e: unknown) => e),
      ),
    ).toBe('DEADLINE_EXCEEDED');
    expect(now() - t0).toBeLessThan(260);
    const spent = { ...ctx, deadlineAt: now() - 1 };
    const t1 = now();
    expect(
      appCodeOf(
        await client
          .with(spent)
          .slow.query({ ms: 0 })
          .catch((e: unknown) => e),
      ),
    ).toBe('DEADLINE_EXCEEDED');
    expect(now() - t1).toBeLessThan(5);
  });
});

/** Waits until `done()` holds, checking every 10 ms, for at most 3 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 3_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('the callee sees the deadline', () => {
  let downstream: Downstream;
  beforeAll(async () => {
    downstream = await startDownstream();
  });
  afterAll(async () => {
    await downstream.service.shutdown('done');
  });

  it('receives the remaining budget and its AbortSignal fires when it runs out', async () => {
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { timeoutMs: 250, maxAttempts: 1 },
    });
    const error = await client
      .with()
      .waitForAbort.query({})
      .catch((e: unknown) => e);
    expect(appCodeOf(error)).toBe('DEADLINE_EXCEEDED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(downstream.state.aborts).toHaveLength(1);
    const [abort] = downstream.state.aborts;
    expect(abort!.budgetMs).toBeGreaterThan(200);
    expect(abort!.budgetMs).toBeLessThanOrEqual(250);
    // It fires at the budget, give or take the timer's granularity (libuv's cached loop time).
    expect(abort!.afterMs).toBeGreaterThanOrEqual(abort!.budgetMs - 20);
    expect(abort!.afterMs).toBeLessThan(300);
  });

  it('its AbortSignal fires as soon as the caller goes away, long before the deadline', async () => {
    const before = downstream.state.aborts.length;
    const started = downstream.state.calls.waitForAbort ?? 0;
    const gone = new AbortController();
    const call = fetch(`${downstream.address.url}/trpc/waitForAbort?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, {
      headers: { 'x-deadline-ms': '5000' },
      signal: gone.signal,
    }).catch(() => undefined);
    // The caller leaves once the handler runs (waited for: a loaded machine may take longer than
    // a fixed wait to get there), then the service learns of it when the connection closes.
    await until(() => (downstream.state.calls.waitForAbort ?? 0) > started);
    gone.abort();
    await call;
    await until(() => downstream.state.aborts.length > before);
    const aborts = downstream.state.aborts.slice(before);
    expect(aborts).toHaveLength(1);
    expect(aborts[0]!.reason).toBe('AbortError');
    expect(aborts[0]!.budgetMs).toBeGreaterThan(4_000);
    // At the caller's leaving, long before the 5 s deadline.
    expect(aborts[0]!.afterMs).toBeLessThan(1_000);
  });

  it('a handler that ignores its signal still answers DEADLINE_EXCEEDED at the deadline', async () => {
    downstream.state.delayMs = 2_000;
    try {
      const t0 = now();
      const res = await fetch(`${downstream.address.url}/trpc/work?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, {
        headers: { 'x-deadline-ms': '200' },
      });
      const ms = now() - t0;
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { json: { data: { appCode: string } } } }).error.json.data.appCode).toBe(
        'DEADLINE_EXCEEDED',
      );
      expect(ms).toBeGreaterThanOrEqual(190);
      expect(ms).toBeLessThan(600);
    } finally {
      downstream.state.delayMs = 0;
    }
  });

  it('a request whose x-deadline-ms is already spent runs no handler', async () => {
    const before = downstream.state.calls.work ?? 0;
    const res = await fetch(`${downstream.address.url}/trpc/work?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, {
      headers: { 'x-deadline-ms': '0' },
    });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { json: { data: { appCode: string } } } }).error.json.data.appCode).toBe(
      'DEADLINE_EXCEEDED',
    );
    expect(downstream.state.calls.work ?? 0).toBe(before);
  });
});
