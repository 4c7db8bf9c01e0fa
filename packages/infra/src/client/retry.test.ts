import { createServer as createHttpServer, request } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { now } from '../policies/deadline.js';
import { createRedisClient } from '../redis/redis-client.js';
import { pollUntil } from '../testing/poll.js';
import { startTestRedis } from '../testing/redis-server.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';
import { gatewayErrorBody as caddyError, rateLimitedBody as rateLimited } from '../testing/error-bodies.js';

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
    // It ran (the proxy cut the answer, not the request), and once: the call has ended, so no
    // attempt can follow.
    await pollUntil('the mutation ran', () => downstream.state.calls.record !== undefined);
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
    // The pace of the offered load (20 calls per 100 ms) is what the budget is measured against.
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

  it('against a service failing for 4 s, total attempts stay within 1.2x the offered load plus the floor', async () => {
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
        budget: { ratio: 0.2, minPerSecond: 1, windowMs: 2_000 },
      },
    });
    let exhausted = 0;
    client.policies.events.onBudgetExhausted.addListener(() => exhausted++);
    // Offered load: 20 calls every 100 ms for 4 s.
    const offered = await offerLoad(client, 4);
    const attempts = downstream.state.calls.work!;
    // Without a budget, 3 attempts per call would send 3x.
    // The budget holds per sliding 2 s window: the run spans up to three windows, so three floors of 2.
    expect(attempts).toBeLessThanOrEqual(Math.ceil(offered * 1.2) + 6);
    expect(attempts).toBeGreaterThan(offered);
    expect(exhausted).toBeGreaterThan(0);
  }, 30_000);
});

/** An answer the gateway gives itself instead of forwarding. */
interface GatewayAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/**
 * A gateway in front of a real downstream: it answers the next requests from `script` (in order),
 * then forwards. `seen` records when each request arrived.
 */
async function behindGateway() {
  const downstream = await startDownstream();
  const script: GatewayAnswer[] = [];
  const seen: Array<{ path: string; at: number; answered: number }> = [];
  const gateway = createHttpServer((req, res) => {
    const answer = script.shift();
    seen.push({ path: req.url!.split('?')[0]!, at: Date.now(), answered: answer?.status ?? 0 });
    if (answer) {
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
      return;
    }
    const upstream = request(`${downstream.address.url}${req.url}`, { method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode!, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () => downstream.service.shutdown('done'),
    () => new Promise((resolve) => gateway.close(resolve)),
  );
  const registry = new Registry();
  const client = createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`,
    registry,
    policies: { maxAttempts: 3, backoff: { baseMs: 5, capMs: 20 }, breaker: false },
  });
  return { downstream, script, seen, client, registry };
}

describe('retries of answers a later attempt can pass (429, 502, 503, 504), honouring Retry-After', () => {
  it.each([
    [502, 'maybe-sent'],
    [503, '503'],
    [504, 'maybe-sent'],
  ])('a query answered %i by the gateway is retried and succeeds', async (status, reason) => {
    const { downstream, script, seen, client, registry } = await behindGateway();
    script.push({ status, body: caddyError(status === 504 ? 'DEADLINE_EXCEEDED' : 'UPSTREAM_UNAVAILABLE') });
    expect(await client.with().work.query({ n: 1 })).toEqual({ ok: true, n: 1 });
    expect(seen.map((r) => r.answered)).toEqual([status, 0]);
    expect(downstream.state.calls.work).toBe(1);
    expect(await registry.metrics()).toContain(
      `switchyard_client_retries_total{target="downstream",procedure="work",reason="${reason}"} 1`,
    );
  });

  it('a 429 is retried once its Retry-After (delta-seconds) has passed', async () => {
    const { script, seen, client } = await behindGateway();
    script.push({ status: 429, headers: { 'retry-after': '1' }, body: rateLimited });
    expect(await client.with().work.query({ n: 2 })).toEqual({ ok: true, n: 2 });
    expect(seen.map((r) => r.answered)).toEqual([429, 0]);
    // Not before the second it asked for (the backoff alone would be at most 20 ms).
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 5);
  });

  it('a 429 is retried once its Retry-After (HTTP date) has passed', async () => {
    const { script, seen, client } = await behindGateway();
    const retryAt = new Date(Date.now() + 2_000).toUTCString();
    script.push({ status: 429, headers: { 'retry-after': retryAt }, body: rateLimited });
    expect(await client.with().work.query({ n: 3 })).toEqual({ ok: true, n: 3 });
    expect(seen.map((r) => r.answered)).toEqual([429, 0]);
    // The date is whole seconds: the retry comes at it, 1 to 2 s after the refusal.
    expect(seen[1]!.at).toBeGreaterThanOrEqual(Date.parse(retryAt) - 5);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(900);
  });

  it('a Retry-After beyond the deadline ends the call with the 429 at once instead of waiting', async () => {
    const { script, seen, client } = await behindGateway();
    script.push({ status: 429, headers: { 'retry-after': '30' }, body: rateLimited });
    const t0 = now();
    const error = await client
      .with()
      .work.query({ n: 4 })
      .catch((e: unknown) => e);
    expect(appCodeOf(error)).toBe('RATE_LIMITED');
    expect((error as TRPCClientError<never>).data).toMatchObject({ httpStatus: 429 });
    expect(seen).toHaveLength(1);
    // Ended by the answer, not by the client's 5 s timeout nor the 30 s wait.
    expect(now() - t0).toBeLessThan(2_500);
  });

  it('a non-idempotent mutation answered 502 by the gateway (it may have run) is not repeated: OUTCOME_UNKNOWN', async () => {
    const { downstream, script, seen, client } = await behindGateway();
    script.push({ status: 502, body: caddyError('UPSTREAM_UNAVAILABLE') });
    const error = await client
      .with()
      .record.mutate({ id: 'gw' })
      .catch((e: unknown) => e);
    expect(appCodeOf(error)).toBe('OUTCOME_UNKNOWN');
    expect((error as TRPCClientError<never>).data).toMatchObject({ retryable: false });
    expect(seen).toHaveLength(1);
    expect(downstream.state.calls.record).toBeUndefined();
  });

  it('a non-idempotent mutation refused with 429 (no handler ran) is retried after its Retry-After', async () => {
    const { downstream, script, seen, client } = await behindGateway();
    script.push({ status: 429, headers: { 'retry-after': '1' }, body: rateLimited });
    expect(await client.with().record.mutate({ id: 'limited' })).toEqual({ count: 1 });
    expect(seen.map((r) => r.answered)).toEqual([429, 0]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 5);
    expect(downstream.state.calls.record).toBe(1);
  });
});
