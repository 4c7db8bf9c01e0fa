import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { NoteCreated, defineEvent, type EventEnvelope } from '@switchyard/api-contracts';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { pollUntil } from '../testing/poll.js';
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

/** The entries of a stream, each as its fields. */
async function entries(redis: Redis, stream: string): Promise<Array<Record<string, string>>> {
  const raw = (await redis.xrange(stream, '-', '+')) as Array<[string, string[]]>;
  return raw.map(([, fields]) => Object.fromEntries(fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i]!, fields[i + 1]!]]))));
}

/** How many entries of the group are delivered but not acknowledged. */
const pendingOf = async (redis: Redis, stream: string) => ((await redis.xpending(stream, 'g')) as [number])[0];

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
      // Settled: every event handled or dead-lettered, nothing left pending, so nothing more can
      // be retried or dead-lettered.
      await pollUntil(
        'every event handled or dead-lettered',
        async () => handled.length === 19 && (await pendingOf(publisher, stream)) === 0,
      );
      const dead = await entries(publisher, `${stream}.dead`);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ id: poisonId, reason: 'failed 3 times: always fails' });
      expect(attempts.get(poisonId)).toBe(3);
      expect(attempts.get(flakyId)).toBe(2);
      expect(handled).toContain(flakyId);
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/switchyard_events_dead_lettered_total\{stream="[^"]+",group="g"\} 1/);
      expect(metrics).toMatch(/switchyard_events_handled_total\{stream="[^"]+",group="g"\} 19/);
    } finally {
      await consumer.stop();
    }
  });

  it('refuses a payload that breaks its contract when publishing, and appends nothing', async () => {
    const def = { ...NoteCreated, stream: `test.${randomUUID()}` };
    const publisher = client();
    const error = await publishEvent(publisher, def, { noteId: 'nope', ownerId: randomUUID(), title: 't' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ZodError);
    expect((error as ZodError).issues).toMatchObject([{ path: ['noteId'], format: 'uuid' }]);
    expect(await publisher.xlen(def.stream)).toBe(0);
  });

  it('dead-letters an event of a version it does not know, and handles the rest', async () => {
    const stream = `test.${randomUUID()}`;
    const v1 = { ...NoteCreated, stream };
    const v2 = defineEvent({ ...v1, version: 2 });
    const publisher = client();
    const ownerId = randomUUID();
    const newer = await publishEvent(publisher, v2, { noteId: randomUUID(), ownerId, title: 'from the future' });
    const known = await publishEvent(publisher, v1, { noteId: randomUUID(), ownerId, title: 'known' });
    const handled: string[] = [];
    const registry = new Registry();
    const consumer = await startConsumer({
      redis: client(),
      stream,
      group: 'g',
      consumer: 'c1',
      events: [v1],
      blockMs: 100,
      registry,
      handle: async (event) => void handled.push(event.id),
    });
    try {
      await pollUntil('both events settled', async () => handled.length === 1 && (await pendingOf(publisher, stream)) === 0);
      expect(handled).toEqual([known]);
      const dead = await entries(publisher, `${stream}.dead`);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({
        id: newer,
        type: 'notes.note.created',
        version: '2',
        reason: 'unknown event notes.note.created@2',
      });
      expect(await registry.metrics()).toMatch(/switchyard_events_dead_lettered_total\{stream="[^"]+",group="g"\} 1/);
    } finally {
      await consumer.stop();
    }
  });
});

describe('stream trimming (MAXLEN ~)', () => {
  it('keeps a stream at about maxLen entries, dropping the oldest', async () => {
    const def = { ...NoteCreated, stream: `test.${randomUUID()}` };
    const publisher = client();
    const ownerId = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      ids.push(await publishEvent(publisher, def, { noteId: randomUUID(), ownerId, title: `t${i}` }, { maxLen: 100 }));
    }
    // Approximate trimming drops whole stream nodes (100 entries each by Redis's default): the
    // stream holds at least maxLen entries and less than one node more.
    const length = await publisher.xlen(def.stream);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(200);
    const kept = (await entries(publisher, def.stream)).map((e) => e.id);
    expect(kept).toEqual(ids.slice(-length));
  });

  it('trims to about 100,000 entries by default', async () => {
    // What the publisher sends, as Redis itself sees it (MONITOR).
    const monitor = await client().monitor();
    const sent: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => void sent.push(args));
    const def = { ...NoteCreated, stream: `test.${randomUUID()}` };
    try {
      await publishEvent(client(), def, { noteId: randomUUID(), ownerId: randomUUID(), title: 'default' });
      const xadd = await pollUntil('the XADD seen by MONITOR', () =>
        sent.find((args) => args[0]?.toLowerCase() === 'xadd' && args[1] === def.stream),
      );
      expect(xadd.slice(2, 6)).toEqual(['MAXLEN', '~', '100000', '*']);
    } finally {
      monitor.disconnect();
    }
  });
});
