import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { Cache } from './cache.js';

const Author = z.object({ id: z.string(), name: z.string(), since: z.date() });

let redis: TestRedis;
const clients: Redis[] = [];

function instance(name = 'test:author') {
  const client = createRedisClient({ url: redis.url, role: 'request', name: 'cache-request' });
  const subscriber = createRedisClient({ url: redis.url, role: 'blocking', name: 'cache-sub' });
  clients.push(client, subscriber);
  return new Cache({ redis: client, subscriber, name, schema: Author, ttlSeconds: 60 });
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis.stop();
});

describe('cache-aside over Redis', () => {
  it('100 concurrent misses on one cold key over 3 instances call the origin at most once per instance', async () => {
    const caches = [instance(), instance(), instance()];
    await Promise.all(caches.map((c) => c.whenReady()));
    let originCalls = 0;
    const load = async () => {
      originCalls++;
      await sleep(50);
      return { id: 'u1', name: 'Ada', since: new Date('2020-01-01T00:00:00Z') };
    };
    const values = await Promise.all(Array.from({ length: 100 }, (_, i) => caches[i % 3]!.get('cold-1', load)));
    expect(originCalls).toBeGreaterThanOrEqual(1);
    expect(originCalls).toBeLessThanOrEqual(3);
    expect(values.every((v) => v.name === 'Ada' && v.since instanceof Date)).toBe(true);
    // Now it is warm for everyone.
    await sleep(20);
    await caches[0]!.get('cold-1', load);
    await caches[2]!.get('cold-1', load);
    expect(originCalls).toBeLessThanOrEqual(3);
  });

  it('treats a corrupt entry as a miss', async () => {
    const cache = instance();
    const raw = createRedisClient({ url: redis.url, role: 'request', name: 'raw' });
    clients.push(raw);
    await new Promise((resolve) => raw.once('ready', resolve));
    await raw.set('test:author:corrupt', '{"json":{"id":1}}');
    await raw.set('test:author:not-json', 'not json at all');
    let calls = 0;
    const load = async () => (calls++, { id: 'x', name: 'fresh', since: new Date(0) });
    expect((await cache.get('corrupt', load)).name).toBe('fresh');
    expect((await cache.get('not-json', load)).name).toBe('fresh');
    expect(calls).toBe(2);
  });

  it('invalidation reaches every instance, and a load begun before the write is not stored', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.whenReady(), b.whenReady()]);
    let version = 1;
    const slowLoad = async () => {
      const seen = version;
      await sleep(150);
      return { id: 'u2', name: `v${seen}`, since: new Date(0) };
    };
    const pending = a.get('u2', slowLoad);
    await sleep(30);
    version = 2;
    await b.invalidate('u2');
    expect((await pending).name).toBe('v1');
    await sleep(30);
    // The stale v1 was not stored: the next read goes to the origin and sees v2.
    expect((await b.get('u2', slowLoad)).name).toBe('v2');
    await sleep(30);
    expect((await a.get('u2', slowLoad)).name).toBe('v2');
  });

  it('never fails a request when Redis is down: the origin answers', async () => {
    const own = await startTestRedis();
    const client = createRedisClient({ url: own.url, role: 'request', name: 'down' });
    const subscriber = createRedisClient({ url: own.url, role: 'blocking', name: 'down-sub' });
    clients.push(client, subscriber);
    const cache = new Cache({ redis: client, subscriber, name: 'down', schema: Author, ttlSeconds: 60 });
    await cache.whenReady();
    await own.kill();
    let calls = 0;
    const t0 = performance.now();
    const value = await cache.get('k', async () => (calls++, { id: 'k', name: 'origin', since: new Date(0) }));
    expect(value.name).toBe('origin');
    expect(calls).toBe(1);
    expect(performance.now() - t0).toBeLessThan(200);
    await cache.invalidate('k');
  });
});
