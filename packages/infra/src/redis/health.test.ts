import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { captureLogs } from '../testing/log-capture.js';
import { pollUntil } from '../testing/poll.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { RedisUnhealthyError, redisHealth } from './health.js';
import { createRedisClient, quitRedis, type Redis } from './redis-client.js';

let redis: TestRedis;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  redis.resume();
  await Promise.all(clients.splice(0).map((c) => quitRedis(c)));
});
afterAll(() => redis?.stop());

async function connected(registry = new Registry()) {
  const logs = captureLogs();
  const client = createRedisClient({
    url: redis.url,
    role: 'request',
    name: 'test-request',
    registry,
    logger: createLogger({ service: 'test', destination: logs.stream }),
  });
  clients.push(client);
  await pollUntil('connected', () => client.status === 'ready');
  return { client, logs, registry, health: redisHealth(client) };
}

const healthyGauge = async (registry: Registry) =>
  /switchyard_redis_healthy\{connection="test-request"\} (\d)/.exec(await registry.metrics())?.[1];

describe('RedisHealth', () => {
  it('is one per connection: the one its client was made with', async () => {
    const { client, health } = await connected();
    expect(redisHealth(client)).toBe(health);
    expect(health.healthy).toBe(true);
  });

  it('a timeout marks Redis unhealthy until a probe gets its PONG; each transition logged once', async () => {
    const { client, logs, registry, health } = await connected();
    redis.pause();
    await expect(health.guard(client.get('k'), 50)).rejects.toThrow('redis did not answer within 50 ms');
    expect(health.healthy).toBe(false);
    expect(await healthyGauge(registry)).toBe('0');
    // Another failure while unhealthy says nothing new.
    await expect(health.guard(client.get('k'), 50)).rejects.toThrow();
    redis.resume();
    await pollUntil('healthy again', () => health.healthy, { timeoutMs: 3_000 });
    expect(await healthyGauge(registry)).toBe('1');
    const transitions = logs.lines().filter((l) => /^redis (un)?healthy/.test(l.msg as string));
    expect(transitions.map((l) => [l.msg, l.redis])).toEqual([
      ['redis unhealthy: its users skip it until a probe succeeds', 'test-request'],
      ['redis healthy again: its users use it again', 'test-request'],
    ]);
  });

  it('a lost connection marks it unhealthy without any command; back once Redis is', async () => {
    const { health } = await connected();
    await redis.kill();
    try {
      await pollUntil('unhealthy', () => !health.healthy, { timeoutMs: 3_000 });
    } finally {
      await redis.restart();
    }
    await pollUntil('healthy again', () => health.healthy, { timeoutMs: 5_000 });
  });

  it('an error reply or a rejection that is no error (an over-limit) leaves it healthy', async () => {
    const { client, health } = await connected();
    await client.set('a-string', 'x');
    await expect(health.guard(client.lpush('a-string', 'y'), 200)).rejects.toThrow(/WRONGTYPE/);
    await expect(health.guard(Promise.reject({ remainingPoints: 0 }), 200)).rejects.toEqual({ remainingPoints: 0 });
    expect(health.healthy).toBe(true);
  });

  it('runs work while healthy; while not, skips it at once and counts the skip by user', async () => {
    const { client, health, registry } = await connected();
    expect(await health.run('cache', () => client.ping(), 200)).toBe('PONG');
    health.failed(new Error('marked down by the test'));
    let ran = 0;
    const work = () => Promise.resolve(ran++);
    await expect(health.run('cache', work, 200)).rejects.toThrow(RedisUnhealthyError);
    await expect(health.run('cache', work, 200)).rejects.toThrow(/redis \(test-request\) is unhealthy: not attempted/);
    expect(ran).toBe(0);
    expect(await registry.metrics()).toMatch(/switchyard_redis_skipped_total\{connection="test-request",user="cache"\} 2/);
  });
});
