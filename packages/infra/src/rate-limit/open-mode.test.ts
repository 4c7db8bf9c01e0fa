import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { loadConfig, serviceEnvShape } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { createRedisPlatform, type RedisPlatform } from '../redis/platform.js';
import { captureLogs } from '../testing/log-capture.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';

// While Redis is down, RATE_LIMIT_MODE=open (the default) limits each instance in memory to
// RATE_LIMIT_POINTS / INSTANCE_COUNT, wired as a service wires it: createRedisPlatform from its config.
const contract = defineContract({
  ping: { type: 'query', input: z.object({}), output: z.object({ ok: z.boolean() }), access: 'public' },
});
const router = implement(contract, { ping: () => ({ ok: true }) });
const env = { RATE_LIMIT_POINTS: '30', INSTANCE_COUNT: '3', TRUSTED_PROXIES: '127.0.0.1' };

let redis: TestRedis;
const platforms: RedisPlatform[] = [];
const instances: TestService[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  for (let i = 0; i < 2; i++) {
    const config = loadConfig(z.object(serviceEnvShape), env);
    const logger = createLogger({ service: 'limited', destination: captureLogs().stream });
    const platform = createRedisPlatform({ service: 'limited', url: redis.url, config, logger, registry: new Registry() });
    platforms.push(platform);
    await new Promise((resolve) => platform.redis.once('ready', resolve));
    instances.push(await startTestService({ name: 'limited', router, env, rateLimiter: platform.rateLimiter }));
  }
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.close()));
  for (const p of platforms) p.redis.disconnect();
  await redis?.stop();
});

/** `count` calls one after another from `ip`: each answer's status, degraded mode and limit headers. */
async function calls(instance: TestService, ip: string, count: number) {
  const answers: Array<{ status: number; degraded: string | null; limit: string | null; remaining: string | null }> = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${instance.url}/trpc/ping?input=${encodeURIComponent('{"json":{}}')}`, {
      headers: { 'x-forwarded-for': ip },
    });
    await res.arrayBuffer();
    answers.push({
      status: res.status,
      degraded: res.headers.get('x-ratelimit-degraded'),
      limit: res.headers.get('ratelimit-limit'),
      remaining: res.headers.get('ratelimit-remaining'),
    });
  }
  return answers;
}

describe('the rate limit in open mode while Redis is down', () => {
  it('limits each instance in memory to RATE_LIMIT_POINTS / INSTANCE_COUNT', async () => {
    // With Redis: the shared limit of 30, not degraded.
    const shared = await calls(instances[0]!, '198.51.100.1', 12);
    expect(shared.map((a) => [a.status, a.degraded])).toEqual(Array(12).fill([200, null]));
    expect(shared.at(-1)).toMatchObject({ limit: '30', remaining: '18' });

    await redis.kill();
    const [first, second] = [await calls(instances[0]!, '198.51.100.2', 12), await calls(instances[1]!, '198.51.100.2', 12)];
    // Each instance allows the caller 30 / 3 = 10, then refuses, saying it decided alone.
    for (const answers of [first, second]) {
      expect(answers.map((a) => a.status)).toEqual([...Array(10).fill(200), 429, 429]);
      expect(answers.every((a) => a.degraded === 'open')).toBe(true);
      expect(answers.map((a) => a.remaining)).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0', '0', '0']);
    }
  });
});
