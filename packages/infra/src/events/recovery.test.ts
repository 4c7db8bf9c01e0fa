import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoteCreated } from '@switchyard/api-contracts';
import { createLogger } from '../logging/logger.js';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { captureLogs } from '../testing/log-capture.js';
import { pollUntil } from '../testing/poll.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { startConsumer } from './consumer.js';
import { publishEvent } from './publisher.js';

// A consumer outlives Redis losing its data: it makes its group again and goes on.
let redis: TestRedis;
const clients: Redis[] = [];
const client = (role: 'blocking' | 'request') => {
  const c = createRedisClient({ url: redis.url, role, name: 'recovery-test' });
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

describe('a consumer after Redis lost its data', () => {
  it.each([
    ['FLUSHALL', async (admin: Redis) => void (await admin.flushall())],
    [
      'a restart without persistence',
      async () => {
        await redis.kill();
        await redis.restart();
      },
    ],
  ])('recreates its group and handles new events within 5 s (%s)', async (_, loseData) => {
    const def = { ...NoteCreated, stream: `test.${randomUUID()}` };
    const publisher = client('blocking');
    const registry = new Registry();
    const logs = captureLogs();
    const handled: string[] = [];
    const consumer = await startConsumer({
      redis: client('blocking'),
      stream: def.stream,
      group: 'g',
      consumer: 'c1',
      events: [def],
      blockMs: 100,
      registry,
      logger: createLogger({ service: 'recovery', destination: logs.stream }),
      handle: async (event) => void handled.push(event.payload.title),
    });
    const ownerId = randomUUID();
    await publishEvent(publisher, def, { noteId: randomUUID(), ownerId, title: 'before' });
    await pollUntil('the first event handled', () => handled.includes('before'));

    await loseData(publisher);
    const lostAt = Date.now();
    // Published once the connection is back: the stream starts again.
    await pollUntil(
      'a publish after the loss',
      () => publishEvent(publisher, def, { noteId: randomUUID(), ownerId, title: 'after' }),
      {
        timeoutMs: 5_000,
      },
    );
    await pollUntil('the event after the loss handled', () => handled.includes('after'), { timeoutMs: 5_000 });
    console.log(`group recreated and the next event handled ${Date.now() - lostAt} ms after the loss`);
    expect(logs.lines().some((l) => l.msg === 'consumer group was gone (Redis lost its data): created again')).toBe(true);
    const recreated = (await registry.getSingleMetric('switchyard_events_group_recreated_total')!.get()).values;
    expect(recreated.map((v) => v.value)).toEqual([1]);
    await consumer.stop();
  });
});
