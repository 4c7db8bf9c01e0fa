import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { now } from '../policies/deadline.js';
import { createRedisClient } from '../redis/redis-client.js';
import { startTestRedis } from '../testing/redis-server.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

const appCodeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { appCode?: string } | undefined)?.appCode : undefined;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function behindProxy(idempotency?: IdempotencyStore) {
  const downstream = await startDownstream({}, idempotency);
  const proxy = await startFaultProxy(downstream.address.port);
  cleanup.push(
    () => downstream.service.shutdown('done'),
    () => proxy.close(),
  );
  const registry = new Registry();
  const client = createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url: `http://127.0.0.1:${proxy.port}`,
    registry,
    policies: { maxAttempts: 3, backoff: { baseMs: 5, capMs: 20 }, breaker: false },
  });
  return { downstream, proxy, client, registry };
}

describe('retries through a connection-resetting proxy', () => {
  it('a non-idempotent mutation whose connection resets runs at most once and reports an unknown outcome', async () => {
    const { downstream, proxy, client } = await behindProxy();
    proxy.mode = 'reset-after-request';
    const error = await client
      .with()
      .record.mutate({ id: 'a' })
      .catch((e: unknown) => e);
    expect(appCodeOf(error)).toBe('OUTCOME_UNKNOWN');
    expect((error as TRPCClientError<never>).data).toMatchObject({ retryable: false, httpStatus: 502 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(downstream.state.calls.record).toBe(1);
    expect(proxy.resets).toBe(1);
  });

  it('a query whose first connection resets is retried on another attempt and succeeds', async () => {
    const { downstream, proxy, client, registry } = await behindProxy();
    proxy.mode = 'reset-after-request';
    proxy.resetLimit = 1;
    expect(await client.with().work.query({ n: 7 })).toEqual({ ok: true, n: 7 });
    expect(downstream.state.calls.work).toBe(2);
    expect(proxy.resets).toBe(1);
    expect(await registry.metrics()).toMatch(
      /switchyard_client_retries_total\{target="downstream",procedure="work",reason="maybe-sent"\} 1/,
    );
  });

  it('an idempotent mutation is retried too, and the server sees each attempt', async () => {
    const { downstream, proxy, client } = await behindProxy();
    proxy.mode = 'reset-after-request';
    proxy.resetLimit = 2;
    expect(await client.with().put.mutate({ id: 'x' })).toEqual({ count: 3 });
    expect(downstream.state.calls.put).toBe(3);
  });

  it('a contract-idempotent mutation retried after a reset runs once on a server honouring Idempotency-Key', async () => {
    const redis = await startTestRedis();
    const client = createRedisClient({ url: redis.url, role: 'request', name: 'idem' });
    cleanup.push(async () => {
      client.disconnect();
      await redis.stop();
    });
    await new Promise((resolve) => client.once('ready', resolve));
    const {
      downstream,
      proxy,
      client: api,
    } = await behindProxy(new IdempotencyStore({ redis: client, prefix: 'downstream:idem' }));
    proxy.mode = 'reset-after-request';
    proxy.resetLimit = 2;
    const ctx = { requestId: 'idem-retry-000001', deadlineAt: now() + 5_000, otel: ROOT_CONTEXT };
    expect(await api.with(ctx).put.mutate({ id: 'x' })).toEqual({ count: 1 });
    expect(downstream.state.calls.put).toBe(1);
    expect(proxy.resets).toBe(2);
  });

  it('a refused connection (nothing sent) is retried even for a non-idempotent mutation, then reported unreachable', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    await new Promise((resolve) => holder.close(resolve));
    const client = createServiceClient({
      target: 'gone',
      contract: downstreamContract,
      url: `http://127.0.0.1:${port}`,
      policies: { maxAttempts: 3, backoff: { baseMs: 1, capMs: 2 }, breaker: false },
    });
    let retries = 0;
    client.policies.events.onRetry.addListener(({ reason }) => {
      retries++;
      expect(reason).toBe('not-sent');
    });
    expect(
      appCodeOf(
        await client
          .with()
          .record.mutate({ id: 'a' })
          .catch((e: unknown) => e),
      ),
    ).toBe('UPSTREAM_UNAVAILABLE');
    expect(retries).toBe(2);
  });

  it('never retries a 4xx answer', async () => {
    const { downstream, client } = await behindProxy();
    for (const status of ['400', '404', '409'] as const)
      await client
        .with()
        .refuse.query({ status })
        .catch(() => undefined);
    expect(downstream.state.calls.refuse).toBe(3);
  });
});

async function offerLoad(
  client: { with(): { work: { query(input: object): Promise<unknown> } } },
  seconds: number,
): Promise<number> {
  let offered = 0;
  const stopAt = Date.now() + seconds * 1000;
  const inFlight: Array<Promise<unknown>> = [];
  while (Date.now() < stopAt) {
    for (let i = 0; i < 20; i++) {
      offered++;
      inFlight.push(
        client
          .with()
          .work.query({})
          .catch(() => undefined),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await Promise.all(inFlight);
  return offered;
}

describe('the retry budget', () => {
  it('negative control: with the budget made huge, the same failing service gets ~3x its load', async () => {
    const downstream: Downstream = await startDownstream();
    cleanup.push(() => downstream.service.shutdown('done'));
    downstream.state.mode = 'fail';
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { maxAttempts: 3, backoff: { baseMs: 1, capMs: 5 }, breaker: false, budget: { ratio: 10, minPerSecond: 10_000 } },
    });
    const offered = await offerLoad(client, 1);
    expect(downstream.state.calls.work).toBe(offered * 3);
  });

  it('against a service failing for 10 s, total attempts stay within 1.2x the offered load plus the floor', async () => {
    const downstream: Downstream = await startDownstream();
    cleanup.push(() => downstream.service.shutdown('done'));
    downstream.state.mode = 'fail';
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: {
        maxAttempts: 3,
        backoff: { baseMs: 1, capMs: 5 },
        breaker: false,
        budget: { ratio: 0.2, minPerSecond: 1, windowMs: 10_000 },
      },
    });
    let exhausted = 0;
    client.policies.events.onBudgetExhausted.addListener(() => exhausted++);
    // Offered load: 20 calls every 100 ms for 10 s.
    const offered = await offerLoad(client, 10);
    const attempts = downstream.state.calls.work!;
    // Without a budget, 3 attempts per call would send 3x.
    // The budget holds per sliding 10 s window: the run spans two windows, so two floors of 10.
    expect(attempts).toBeLessThanOrEqual(Math.ceil(offered * 1.2) + 20);
    expect(attempts).toBeGreaterThan(offered);
    expect(exhausted).toBeGreaterThan(0);
  }, 30_000);
});
