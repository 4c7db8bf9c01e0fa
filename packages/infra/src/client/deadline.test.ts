import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { TRPCClientError } from '@trpc/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { now, remainingMs } from '../policies/deadline.js';
import { testContract } from '../server/fixtures/test-contract.js';
import { pollUntil } from '../testing/poll.js';
import { sourceCommand, spawnService, type SpawnedService } from '../testing/spawn-service.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

const appCodeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { appCode?: string } | undefined)?.appCode : undefined;

describe('a hanging downstream (process paused with SIGSTOP)', () => {
  let paused: SpawnedService;
  beforeAll(async () => {
    paused = await spawnService({
      command: sourceCommand(fileURLToPath(new URL('../server/fixtures/test-service.ts', import.meta.url))),
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

  it('the per-try timeout ends an attempt at its value, not at the call timeout', async () => {
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
    // Never before its 300 ms (libuv schedules timers from its cached loop time, so one can fire
    // a few ms early by the wall clock), and ended by it, not by the 5 s call timeout.
    for (const ms of elapsed) {
      expect(ms).toBeGreaterThanOrEqual(270);
      expect(ms).toBeLessThan(2_000);
    }
  });

  it('retries within the overall deadline and never exceeds it', async () => {
    const client = createServiceClient({
      target: 'paused',
      contract: testContract,
      url: paused.url,
      policies: { perTryTimeoutMs: 1_000, timeoutMs: 2_200, maxAttempts: 5, breaker: false, backoff: { baseMs: 10, capMs: 20 } },
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
    // Three attempts: two of a whole 1 s try, then one cut to what is left of the 2.2 s.
    expect(retries).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(2_150);
    // The budget is never extended: the third attempt given its whole try time would end near 3 s.
    // What is over 2.2 s is timers firing late on a loaded machine.
    expect(ms).toBeLessThan(2_200 + 500);
  });

  it('an inbound deadline bounds outbound calls, and a spent one fails fast without the network', async () => {
    const client = createServiceClient({
      target: 'paused',
      contract: testContract,
      url: paused.url,
      policies: { timeoutMs: 5_000, maxAttempts: 1, breaker: false },
    });
    paused.signal('SIGSTOP');
    const ctx = { requestId: 'deadline-test-0001', deadlineAt: now() + 200, otel: ROOT_CONTEXT };
    const t0 = now();
    expect(
      appCodeOf(
        await client
          .with(ctx)
          .slow.query({ ms: 0 })
          .catch((e: unknown) => e),
      ),
    ).toBe('DEADLINE_EXCEEDED');
    // Ended by the inbound 200 ms, not by the client's 5 s.
    expect(now() - t0).toBeGreaterThanOrEqual(190);
    expect(now() - t0).toBeLessThan(2_000);

    // A spent deadline: refused before any attempt, so nothing reaches a listener that counts
    // every connection (an attempt would open one).
    const connections: Socket[] = [];
    const listener = createServer((socket) => void connections.push(socket));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const counted = createServiceClient({
        target: 'counted',
        contract: testContract,
        url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`,
        policies: { timeoutMs: 5_000, maxAttempts: 1, breaker: false },
      });
      const spent = { ...ctx, deadlineAt: now() - 1 };
      const outcome = counted.with(spent).slow.query({ ms: 0 });
      expect(appCodeOf(await outcome.catch((e: unknown) => e))).toBe('DEADLINE_EXCEEDED');
      // A live call to the same listener connects: the count would have seen an attempt.
      void counted
        .with()
        .slow.query({ ms: 0 })
        .catch(() => undefined);
      await pollUntil('the live call connected', () => connections.length === 1);
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});

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
    await pollUntil('the handler aborted', () => downstream.state.aborts.length === 1);
    const [abort] = downstream.state.aborts;
    // What is left of the 250 ms when the call arrives.
    expect(abort!.budgetMs).toBeGreaterThan(125);
    expect(abort!.budgetMs).toBeLessThanOrEqual(250);
    // It fires when the budget runs out (by its own timer, or as the caller's timer, which ends
    // at the same moment, cuts the request): not before it, give or take the timer's granularity
    // (libuv's cached loop time), nor long after it (1 s of room for a loaded machine).
    expect(abort!.afterMs).toBeGreaterThanOrEqual(abort!.budgetMs - 20);
    expect(abort!.afterMs).toBeLessThan(abort!.budgetMs + 1_000);
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
    await pollUntil('the handler running', () => (downstream.state.calls.waitForAbort ?? 0) > started);
    gone.abort();
    await call;
    await pollUntil('the handler aborted', () => downstream.state.aborts.length > before);
    const aborts = downstream.state.aborts.slice(before);
    expect(aborts).toHaveLength(1);
    expect(aborts[0]!.reason).toBe('AbortError');
    expect(aborts[0]!.budgetMs).toBeGreaterThan(4_000);
    // At the caller's leaving, long before the 5 s deadline (half of it is room for a loaded machine).
    expect(aborts[0]!.afterMs).toBeLessThan(2_500);
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
      // At the 200 ms deadline, not when the 2 s handler ends.
      expect(ms).toBeGreaterThanOrEqual(190);
      expect(ms).toBeLessThan(1_500);
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

describe("a contract's timeoutMs", () => {
  // `hang` has 300 ms in its contract, `wait` nothing, on a service whose default deadline is 10 s.
  const procedure = {
    type: 'query',
    input: z.object({ heedSignal: z.boolean() }),
    output: z.object({}),
    access: 'public',
  } as const;
  const timedContract = defineContract({ hang: { ...procedure, timeoutMs: 300 }, wait: procedure });
  const seen: Array<{ budgetMs: number; reason?: string }> = [];
  let svc: TestService;
  beforeAll(async () => {
    const handler = ({
      input,
      ctx,
      signal,
    }: {
      input: { heedSignal: boolean };
      ctx: { deadlineAt: number };
      signal: AbortSignal;
    }) => {
      const entry: { budgetMs: number; reason?: string } = { budgetMs: remainingMs(ctx.deadlineAt) };
      seen.push(entry);
      return new Promise<Record<string, never>>((_, reject) => {
        signal.addEventListener('abort', () => {
          entry.reason = (signal.reason as Error).name;
          if (input.heedSignal) reject(signal.reason as Error);
        });
      });
    };
    const router = implement(timedContract, { hang: handler, wait: handler });
    svc = await startTestService({ router, env: { DEFAULT_DEADLINE_MS: '10000' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('is the deadline of an inbound call, under a longer x-deadline-ms or the default', async () => {
    seen.length = 0;
    for (const headers of [{ 'x-deadline-ms': '5000' }, {}] as Array<Record<string, string>>) {
      const t0 = now();
      const res = await fetch(
        `${svc.url}/trpc/hang?input=${encodeURIComponent(JSON.stringify({ json: { heedSignal: false } }))}`,
        {
          headers,
        },
      );
      const ms = now() - t0;
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { json: { data: { appCode: string } } } }).error.json.data.appCode).toBe(
        'DEADLINE_EXCEEDED',
      );
      // At the contract's 300 ms, not at 5 s or 10 s.
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(2_500);
    }
    expect(seen.map((s) => s.reason)).toEqual(['TimeoutError', 'TimeoutError']);
    for (const { budgetMs } of seen) {
      expect(budgetMs).toBeGreaterThan(200);
      expect(budgetMs).toBeLessThanOrEqual(300);
    }
  });

  it("is a mesh client's timeout for the procedure, over the client's own", async () => {
    seen.length = 0;
    // The caller's contract gives `wait` 300 ms; the service's gives it none (so 10 s by default):
    // what the callee sees is the budget the client sent.
    const client = createServiceClient({
      target: 'timed',
      contract: defineContract({ wait: { ...procedure, timeoutMs: 300 } }),
      url: svc.url,
      policies: { timeoutMs: 5_000, maxAttempts: 1, breaker: false },
    });
    const t0 = now();
    const error = await client
      .with()
      .wait.query({ heedSignal: true })
      .catch((e: unknown) => e);
    const ms = now() - t0;
    expect(appCodeOf(error)).toBe('DEADLINE_EXCEEDED');
    // At the contract's 300 ms, not at the client's 5 s.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2_500);
    // The callee was given that budget too (what is left of it on arrival).
    await pollUntil('the handler aborted', () => seen[0]?.reason);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.budgetMs).toBeGreaterThan(150);
    expect(seen[0]!.budgetMs).toBeLessThanOrEqual(300);
  });
});
