import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { pollUntil } from '../testing/poll.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { Cache } from './cache.js';

const Author = z.object({ id: z.string(), name: z.string(), since: z.date() });

let redis: TestRedis;
const clients: Redis[] = [];

function instance(name = 'test:author') {
  const client = createRedisClient({ url: redis.url, role: 'request', name: 'cache-request' });
  const subscriber = createRedisClient({ url: redis.url, role: 'blocking', name: 'cache-sub' });
  clients.push(client, subscriber);
  return Object.assign(new Cache({ redis: client, subscriber, name, schema: Author, ttlSeconds: 60 }), { client, subscriber });
}

/** A raw connection, to look at what the caches stored. */
async function raw(): Promise<Redis> {
  const client = createRedisClient({ url: redis.url, role: 'request', name: 'raw' });
  clients.push(client);
  await new Promise((resolve) => client.once('ready', resolve));
  return client;
}

/** A promise and its resolve, to hold a load until the test lets it finish. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis.stop();
});

describe('cache-aside over Redis', () => {
  it('100 concurrent misses on one cold key over 3 instances call the origin once per instance', async () => {
    const caches = [instance(), instance(), instance()];
    await Promise.all(caches.map((c) => c.whenReady()));
    const look = await raw();
    let originCalls = 0;
    // The origin answers only once every instance is loading: all 100 misses overlap a load.
    const origin = gate();
    const load = async () => {
      originCalls++;
      await origin.opened;
      return { id: 'u1', name: 'Ada', since: new Date('2020-01-01T00:00:00Z') };
    };
    const reads = Promise.all(Array.from({ length: 100 }, (_, i) => caches[i % 3]!.get('cold-1', load)));
    await pollUntil('every instance loading', () => originCalls === 3);
    origin.open();
    const values = await reads;
    expect(originCalls).toBe(3);
    expect(values).toHaveLength(100);
    for (const v of values) expect(v).toEqual({ id: 'u1', name: 'Ada', since: new Date('2020-01-01T00:00:00Z') });
    // Once stored, it is warm for every instance: no more origin calls.
    await pollUntil('the value stored', async () => (await look.exists('test:author:cold-1')) === 1);
    expect(await caches[0]!.get('cold-1', load)).toEqual(values[0]);
    expect(await caches[2]!.get('cold-1', load)).toEqual(values[0]);
    expect(originCalls).toBe(3);
  });

  it('treats a corrupt entry as a miss', async () => {
    const cache = instance();
    const look = await raw();
    await look.set('test:author:corrupt', '{"json":{"id":1}}');
    await look.set('test:author:not-json', 'not json at all');
    let calls = 0;
    const load = async () => (calls++, { id: 'x', name: 'fresh', since: new Date(0) });
    expect((await cache.get('corrupt', load)).name).toBe('fresh');
    expect((await cache.get('not-json', load)).name).toBe('fresh');
    expect(calls).toBe(2);
  });

  it('invalidation reaches every instance, and a load begun before the write is not stored', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.whenReady(), b.whenReady()]);
    const look = await raw();
    let version = 1;
    let loads = 0;
    const origin = gate();
    const slowLoad = async () => {
      loads++;
      const seen = version;
      await origin.opened;
      return { id: 'u2', name: `v${seen}`, since: new Date(0) };
    };
    const pending = a.get('u2', slowLoad);
    await pollUntil('a loading u2', () => loads === 1);
    // The owner writes v2, then invalidates; `a` hears it (its cache's listener runs before this
    // one, on the same connection) while its load of v1 is still running.
    version = 2;
    const heard = new Promise<void>((resolve) =>
      a.subscriber.on('message', (channel: string, key: string) => {
        if (channel === 'test:author:invalidate' && key === 'u2') resolve();
      }),
    );
    await b.invalidate('u2');
    await heard;
    origin.open();
    expect((await pending).name).toBe('v1');
    // The stale v1 was not stored: a command on a's connection after its would-be SET has run
    // once this one answers.
    await a.client.ping();
    expect(await look.exists('test:author:u2')).toBe(0);
    // The next read goes to the origin and sees v2, and stores it for every instance.
    expect((await b.get('u2', slowLoad)).name).toBe('v2');
    await pollUntil('v2 stored', async () => (await look.exists('test:author:u2')) === 1);
    const failing = async (): Promise<never> => {
      throw new Error('the origin must not be asked');
    };
    expect((await a.get('u2', failing)).name).toBe('v2');
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
    // The read gives up on Redis within its 100 ms timeout (a refused connection fails at once);
    // without it, it would wait for a Redis that is gone. 800 ms is room for a loaded machine.
    expect(performance.now() - t0).toBeLessThan(800);
    await cache.invalidate('k');
  });
});
