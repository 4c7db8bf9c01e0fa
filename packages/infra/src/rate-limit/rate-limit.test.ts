import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { loadConfig, serviceEnvShape } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { createRedisPlatform } from '../redis/platform.js';
import type { Redis } from '../redis/redis-client.js';
import { captureLogs } from '../testing/log-capture.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { sourceCommand, spawnService, type SpawnedService } from '../testing/spawn-service.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';
import type { DegradedMode } from './rate-limiter.js';

const contract = defineContract({
  ping: { type: 'query', input: z.object({}), output: z.object({ ok: z.boolean() }), access: 'public' },
  free: { type: 'query', input: z.object({}), output: z.object({ ok: z.boolean() }), access: 'public', rateLimitCost: 0 },
});
const router = implement(contract, { ping: () => ({ ok: true }), free: () => ({ ok: true }) });

interface Instance {
  url: string;
  service: TestService;
  redis: Redis;
  registry: Registry;
}

let redis: TestRedis;
const instances: Instance[] = [];
const processes: SpawnedService[] = [];

/** Instances in this process, wired as a service wires them: createRedisPlatform from the config. */
async function startInstances(count: number, points: number, mode: DegradedMode = 'open'): Promise<Instance[]> {
  const started: Instance[] = [];
  const env = {
    RATE_LIMIT_POINTS: String(points),
    RATE_LIMIT_MODE: mode,
    INSTANCE_COUNT: String(count),
    TRUSTED_PROXIES: '127.0.0.1',
  };
  for (let i = 0; i < count; i++) {
    const registry = new Registry();
    const config = loadConfig(z.object(serviceEnvShape), env);
    const logger = createLogger({ service: 'limited', destination: captureLogs().stream });
    const platform = createRedisPlatform({ service: 'limited', url: redis.url, config, logger, registry });
    const service = await startTestService({ name: 'limited', router, env, rateLimiter: platform.rateLimiter });
    const instance = { url: service.url, service, redis: platform.redis, registry };
    started.push(instance);
    instances.push(instance);
  }
  await Promise.all(
    started.map(
      (i) => new Promise<void>((resolve) => (i.redis.status === 'ready' ? resolve() : i.redis.once('ready', () => resolve()))),
    ),
  );
  return started;
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  for (const p of processes.splice(0)) p.signal('SIGKILL');
  await Promise.all(
    instances.splice(0).map(async (i) => {
      await i.service.close();
      i.redis.disconnect();
    }),
  );
});
afterAll(async () => {
  await redis?.stop();
});

const PING = `/trpc/ping?input=${encodeURIComponent('{"json":{}}')}`;
const ping = (url: string, ip: string) => fetch(`${url}${PING}`, { headers: { 'x-forwarded-for': ip } });

async function spawnInstances(count: number, points: number) {
  const spawned = await Promise.all(
    Array.from({ length: count }, () =>
      spawnService({
        command: sourceCommand(fileURLToPath(new URL('./fixtures/limited-service.ts', import.meta.url))),
        cwd: process.cwd(),
        env: {
          HOST: '127.0.0.1',
          PORT: '0',
          METRICS_PORT: '0',
          DRAIN_DELAY_MS: '0',
          TRUSTED_PROXIES: '127.0.0.1',
          REDIS_URL: redis.url,
          RATE_LIMIT_POINTS: String(points),
          INSTANCE_COUNT: String(count),
        },
      }),
    ),
  );
  processes.push(...spawned);
  return spawned;
}

describe('shared rate limit over Redis', () => {
  it('1000 concurrent requests against a limit of 100 over 3 instances (processes): exactly 100 allowed, 20 runs in a row', async () => {
    const three = await spawnInstances(3, 100);
    for (let run = 0; run < 20; run++) {
      const ip = `198.51.100.${run}`;
      const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => ping(three[i % 3]!.url, ip)));
      const statuses = responses.map((r) => r.status);
      const counts = new Map<string, number>();
      for (const r of responses) {
        const k = `${r.status}/${r.headers.get('x-ratelimit-degraded') ?? 'shared'}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const summary = JSON.stringify([...counts]);
      expect(
        statuses.filter((s) => s === 200),
        summary,
      ).toHaveLength(100);
      expect(statuses.filter((s) => s === 429)).toHaveLength(900);
      const refused = responses.find((r) => r.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('ratelimit-limit')).toBe('100');
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      await Promise.all(responses.map((r) => r.arrayBuffer()));
    }
  }, 120_000);

  it('a batch of k procedures consumes k points; cost-0 procedures consume none', async () => {
    const [one] = await startInstances(1, 12);
    const ip = '203.0.113.7';
    const batch = (n: number) =>
      fetch(
        `${one!.url}/trpc/${Array(n).fill('ping').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: {} }]))))}`,
        {
          headers: { 'x-forwarded-for': ip },
        },
      );
    const first = await batch(5);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('7');
    const free = await fetch(`${one!.url}/trpc/free?input=${encodeURIComponent('{"json":{}}')}`, {
      headers: { 'x-forwarded-for': ip },
    });
    expect(free.status).toBe(200);
    const second = await batch(5);
    expect(second.headers.get('ratelimit-remaining')).toBe('2');
    // 3 calls for 2 points left: two pass, one is refused inside the same batch.
    const third = await batch(3);
    expect(third.status).toBe(207);
    const body = (await third.json()) as Array<{
      result?: unknown;
      error?: { json: { data: { appCode: string; httpStatus: number } } };
    }>;
    expect(body.filter((b) => b.result)).toHaveLength(2);
    expect(body.find((b) => b.error)?.error?.json.data).toMatchObject({ appCode: 'RATE_LIMITED', httpStatus: 429 });
  });
});

interface Sample {
  at: number;
  ms: number;
  status: number;
  degraded: string | null;
}

async function underLoad(
  instance: Instance,
  seconds: number,
  fault: { startAt: number; apply: () => void | Promise<void>; endAt: number; undo: () => void | Promise<void> },
) {
  const samples: Sample[] = [];
  const t0 = Date.now();
  let faulted = false;
  let restored = false;
  let restoredAt = 0;
  const stopAt = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      while (Date.now() < stopAt) {
        const at = Date.now() - t0;
        if (!faulted && at >= fault.startAt && worker === 0) {
          faulted = true;
          await fault.apply();
        }
        if (faulted && !restored && at >= fault.endAt && worker === 0) {
          restored = true;
          await fault.undo();
          restoredAt = Date.now() - t0;
        }
        const started = performance.now();
        const res = await ping(instance.url, `192.0.2.${worker}`);
        samples.push({
          at: Date.now() - t0,
          ms: performance.now() - started,
          status: res.status,
          degraded: res.headers.get('x-ratelimit-degraded'),
        });
        await res.arrayBuffer();
        // Each worker's pace: the load the outage is measured under.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }),
  );
  return { samples, restoredAt };
}

describe('Redis outages under load', () => {
  it.each([
    ['killed for 5 s, then restarted', () => redis.kill(), () => redis.restart()],
    ['frozen (SIGSTOP) for 5 s', () => redis.pause(), () => redis.resume()],
  ])(
    '%s: no request over 300 ms, degraded mode seen, shared limits back within 1 s',
    async (_name, apply, undo) => {
      const [one] = await startInstances(1, 1_000_000);
      const { samples, restoredAt } = await underLoad(one!, 8, { startAt: 1_000, apply, endAt: 6_000, undo });
      // No request waits past the limiter's 200 ms for Redis; 100 ms more is room for the
      // request itself on a loaded machine (this file runs alone).
      const slowest = Math.max(...samples.map((s) => s.ms));
      expect(slowest).toBeLessThan(300);
      expect(samples.every((s) => s.status === 200)).toBe(true);
      const during = samples.filter((s) => s.at > 1_500 && s.at < 5_900);
      expect(during.length).toBeGreaterThan(50);
      expect(during.filter((s) => s.degraded === 'open').length).toBeGreaterThan(during.length * 0.9);
      const firstShared = samples.find((s) => s.at > restoredAt && s.degraded === null);
      expect(firstShared, 'shared limiting came back').toMatchObject({ status: 200, degraded: null });
      // The documented bound: one request per 250 ms probes Redis, plus the client's reconnect.
      expect(firstShared!.at - restoredAt).toBeLessThan(1_000);
      expect(samples.filter((s) => s.at > firstShared!.at + 200).every((s) => s.degraded === null)).toBe(true);
      expect(await one!.registry.metrics()).toMatch(/switchyard_ratelimit_degraded_total\{mode="open"\} [1-9]\d*/);
    },
    30_000,
  );

  it('fail-closed mode answers 503 at once while Redis is down', async () => {
    const [one] = await startInstances(1, 1_000, 'closed');
    expect((await ping(one!.url, '192.0.2.77')).status).toBe(200);
    await redis.kill();
    try {
      const t0 = performance.now();
      const res = await ping(one!.url, '192.0.2.77');
      // At once: a refused connection fails without waiting for the 200 ms timeout.
      expect(performance.now() - t0).toBeLessThan(300);
      expect(res.status).toBe(503);
      expect(res.headers.get('x-ratelimit-degraded')).toBe('closed');
      expect(res.headers.get('retry-after')).toBe('1');
    } finally {
      await redis.restart();
    }
  });
});
