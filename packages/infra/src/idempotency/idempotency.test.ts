import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { loadConfig, portVar, serviceEnvShape } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { createService, type Service } from '../server/service.js';
import { captureLogs } from '../testing/log-capture.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { implement } from '../trpc/implement.js';
import { IdempotencyStore } from './idempotency-store.js';

const contract = defineContract({
  charge: {
    type: 'mutation',
    input: z.object({ amount: z.number().int().positive(), fail: z.boolean().optional() }),
    output: z.object({ chargeId: z.string(), amount: z.number(), at: z.date() }),
    access: 'public',
  },
});

let redis: TestRedis;
let client: Redis;
let service: Service;
let url: string;
const executions: number[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  client = createRedisClient({ url: redis.url, role: 'request', name: 'idem' });
  await new Promise((resolve) => client.once('ready', resolve));
  const router = implement(contract, {
    charge: async ({ input }) => {
      executions.push(input.amount);
      await sleep(100);
      if (input.fail) throw new Error('card declined (internal)');
      return { chargeId: randomUUID(), amount: input.amount, at: new Date() };
    },
  });
  const config = loadConfig(z.object({ ...serviceEnvShape, PORT: portVar(0), METRICS_PORT: portVar(0) }), {
    HOST: '127.0.0.1',
    DRAIN_DELAY_MS: '0',
  });
  service = createService({
    name: 'payments',
    router,
    config,
    logger: createLogger({ service: 'payments', destination: captureLogs().stream }),
    idempotency: new IdempotencyStore({ redis: client, prefix: 'payments:idem' }),
  });
  url = (await service.start()).url;
});

afterAll(async () => {
  await service?.shutdown('done');
  client?.disconnect();
  await redis?.stop();
});

const charge = (input: object, key?: string) =>
  fetch(`${url}/trpc/charge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify({ json: input }),
  });

describe('Idempotency-Key', () => {
  it('10 concurrent sends of one mutation with one key: one execution, ten identical results', async () => {
    const key = `key-${randomUUID()}`;
    const before = executions.length;
    const responses = await Promise.all(Array.from({ length: 10 }, () => charge({ amount: 42 }, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(executions.length - before).toBe(1);
    // A later repeat replays too.
    expect(await (await charge({ amount: 42 }, key)).text()).toBe(bodies[0]);
    expect(executions.length - before).toBe(1);
  });

  it('without a key, or with another input, it runs again', async () => {
    const key = `key-${randomUUID()}`;
    const before = executions.length;
    await charge({ amount: 1 }, key);
    await charge({ amount: 2 }, key);
    await charge({ amount: 1 });
    await charge({ amount: 1 });
    expect(executions.length - before).toBe(4);
  });

  it('a failed call frees its key so a retry runs', async () => {
    const key = `key-${randomUUID()}`;
    const before = executions.length;
    expect((await charge({ amount: 5, fail: true }, key)).status).toBe(500);
    expect((await charge({ amount: 5, fail: true }, key)).status).toBe(500);
    expect(executions.length - before).toBe(2);
  });

  it('a malformed key is refused with 400 naming the header', async () => {
    const res = await charge({ amount: 1 }, 'bad key!');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { json: { data: { issues: Array<{ path: string }> } } } };
    expect(body.error.json.data.issues[0]?.path).toBe('Idempotency-Key');
  });

  it('with Redis down the call is refused with 503 instead of running unguarded', async () => {
    const before = executions.length;
    redis.pause();
    try {
      const res = await charge({ amount: 9 }, `key-${randomUUID()}`);
      expect(res.status).toBe(503);
      expect(executions.length).toBe(before);
    } finally {
      redis.resume();
    }
  });
});
