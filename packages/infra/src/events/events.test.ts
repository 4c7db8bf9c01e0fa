import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoteCreated, type EventEnvelope } from '@switchyard/api-contracts';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { startConsumer } from './consumer.js';
import { publishEvent } from './publisher.js';

let redis: TestRedis;
const clients: Redis[] = [];
const client = () => {
  const c = createRedisClient({ url: redis.url, role: 'blocking', name: 'events-test' });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis.stop();
});

async function until(predicate: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('stream consumer', () => {
  it('retries a failing event, dead-letters it after maxAttempts, and the rest flow on', async () => {
    const stream = `test.${randomUUID()}`;
    const def = { ...NoteCreated, stream };
    const publisher = client();
    const ownerId = randomUUID();
    const handled: string[] = [];
    const attempts = new Map<string, number>();
    let poisonId = '';
    let flakyId = '';
    for (let i = 0; i < 20; i++) {
      const id = await publishEvent(publisher, def, { noteId: randomUUID(), ownerId, title: `t${i}` });
      if (i === 5) poisonId = id;
      if (i === 10) flakyId = id;
    }
    const registry = new Registry();
    const consumer = await startConsumer({
      redis: client(),
      stream,
      group: 'g',
      consumer: 'c1',
      events: [def],
      maxAttempts: 3,
      claimIdleMs: 100,
      blockMs: 100,
      registry,
      handle: async (event: EventEnvelope<typeof def>) => {
        const n = (attempts.get(event.id) ?? 0) + 1;
        attempts.set(event.id, n);
        if (event.id === poisonId) throw new Error('always fails');
        if (event.id === flakyId && n === 1) throw new Error('fails once');
        handled.push(event.id);
      },
    });
    try {
      await until(() => handled.length === 19);
      const dead = (await publisher.xrange(`${stream}.dead`, '-', '+')) as Array<[string, string[]]>;
      await until(() => attempts.get(poisonId) === 3);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const deadAfter = (await publisher.xrange(`${stream}.dead`, '-', '+')) as Array<[string, string[]]>;
      expect(deadAfter.length).toBeGreaterThanOrEqual(dead.length);
      expect(deadAfter).toHaveLength(1);
      expect(deadAfter[0]![1].join(' ')).toContain('failed 3 times');
      expect(attempts.get(poisonId)).toBe(3);
      expect(attempts.get(flakyId)).toBe(2);
      expect(handled).toContain(flakyId);
      const pending = (await publisher.xpending(stream, 'g')) as [number, ...unknown[]];
      expect(pending[0]).toBe(0);
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/switchyard_events_dead_lettered_total\{stream="[^"]+",group="g"\} 1/);
      expect(metrics).toMatch(/switchyard_events_handled_total\{stream="[^"]+",group="g"\} 19/);
    } finally {
      await consumer.stop();
    }
  });

  it('refuses a payload that breaks its contract when publishing', async () => {
    await expect(publishEvent(client(), NoteCreated, { noteId: 'nope', ownerId: randomUUID(), title: 't' })).rejects.toThrow();
  });
});
