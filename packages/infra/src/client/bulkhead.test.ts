import { ROOT_CONTEXT } from '@opentelemetry/api';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now } from '../policies/deadline.js';
import type { CallPolicyOptions } from '../policies/policy-options.js';
import { pollUntil } from '../testing/poll.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

let downstream: Downstream;
beforeAll(async () => {
  downstream = await startDownstream();
});
afterAll(async () => {
  await downstream.service.shutdown('test done');
});

const appCodeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { appCode?: string } | undefined)?.appCode : undefined;
const clientWith = (policies: CallPolicyOptions) =>
  createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url, policies });
const ctxOf = (i: number) => ({ requestId: `bulkhead-test-${i}000`, deadlineAt: now() + 10_000, otel: ROOT_CONTEXT });

describe('bulkhead against a real downstream', () => {
  it('runs at most maxConcurrent calls, queues maxQueue in order, and refuses the rest at once', async () => {
    downstream.state.delayMs = 300;
    downstream.state.calls = {};
    downstream.state.work = { running: 0, maxRunning: 0, ended: 0 };
    const client = clientWith({ maxAttempts: 1, breaker: false, bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    const t0 = now();
    const settled = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        client
          .with(ctxOf(n))
          .work.query({ n })
          .then(
            (value) => ({ n: value.n, ms: now() - t0 }),
            (error: unknown) => ({ code: appCodeOf(error), ms: now() - t0 }),
          ),
      ),
    );
    downstream.state.delayMs = 0;
    // Two run at once, the third waits for a slot, the fourth finds the queue full.
    expect(settled.map((s) => ('n' in s ? s.n : s.code))).toEqual([1, 2, 3, 'BULKHEAD_FULL']);
    expect(downstream.state.work.maxRunning).toBe(2);
    expect(downstream.state.calls.work).toBe(3);
    // The fourth is refused at once, before the running calls answer.
    expect(settled[3]!.ms).toBeLessThan(settled[0]!.ms);
    expect(settled[0]!.ms).toBeGreaterThanOrEqual(290);
    // The third started only when a slot was freed: after one call's 300 ms, then its own.
    expect(settled[2]!.ms).toBeGreaterThanOrEqual(590);
  });

  it('a queued call whose try time passes leaves the queue without running', async () => {
    downstream.state.delayMs = 1_000;
    downstream.state.calls = {};
    downstream.state.work = { running: 0, maxRunning: 0, ended: 0 };
    const client = clientWith({
      maxAttempts: 1,
      perTryTimeoutMs: 150,
      breaker: false,
      bulkhead: { maxConcurrent: 1, maxQueue: 5 },
    });
    const t0 = now();
    const results = await Promise.allSettled([1, 2].map((n) => client.with(ctxOf(n)).work.query({ n })));
    const elapsed = now() - t0;
    downstream.state.delayMs = 0;
    expect(results.map((r) => (r.status === 'rejected' ? appCodeOf(r.reason) : 'ok'))).toEqual([
      'DEADLINE_EXCEEDED',
      'DEADLINE_EXCEEDED',
    ]);
    // Both end at their 150 ms try time (a timer may fire a few ms early by the wall clock), not
    // when the running call answers after 1 s.
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(900);
    // The queued call left the queue: once the running one has ended at the downstream, a new
    // call (FIFO, so behind anything still queued) is the only other call that gets there.
    await pollUntil('the first call ended at the downstream', () => downstream.state.work.ended === 1);
    expect(await client.with(ctxOf(3)).work.query({ n: 3 })).toEqual({ ok: true, n: 3 });
    expect(downstream.state.calls.work).toBe(2);
  });
});
