import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { createAccessTokenVerifier } from '../auth/access-token.js';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { startTestTokenIssuer, type TestTokenIssuer } from '../testing/token-issuer.js';
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
let issuer: TestTokenIssuer;
let svc: TestService;
let url: string;
const executions: number[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  issuer = await startTestTokenIssuer();
  client = createRedisClient({ url: redis.url, role: 'request', name: 'idem' });
  await new Promise((resolve) => client.once('ready', resolve));
  const router = implement(contract, {
    charge: async ({ input }) => {
      executions.push(input.amount);
      // The charge takes a while, so that duplicates sent with it arrive while it runs (they
      // wait for its result): the overlap is what the concurrent test is about.
      await sleep(100);
      if (input.fail) throw new Error('card declined (internal)');
      return { chargeId: randomUUID(), amount: input.amount, at: new Date() };
    },
  });
  svc = await startTestService({
    name: 'payments',
    router,
    // Addresses are told apart by X-Forwarded-For from the test's own (trusted) address.
    env: { TRUSTED_PROXIES: '127.0.0.1' },
    idempotency: new IdempotencyStore({ redis: client, prefix: 'payments:idem' }),
    verifyAccessToken: createAccessTokenVerifier({ jwksUrl: issuer.jwksUrl }),
  });
  url = svc.url;
});

afterAll(async () => {
  await svc?.close();
  await issuer?.close();
  client?.disconnect();
  await redis?.stop();
});

const charge = (input: object, key?: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/trpc/charge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}), ...headers },
    body: JSON.stringify({ json: input }),
  });

const chargeIdOf = async (res: Response) =>
  ((await res.json()) as { result: { data: { json: { chargeId: string } } } }).result.data.json.chargeId;

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

  it('is scoped per caller: two users with one key and input do not share a result', async () => {
    const key = `key-${randomUUID()}`;
    const [ada, bob] = [randomUUID(), randomUUID()];
    const as = async (user: string) => ({ authorization: `Bearer ${await issuer.sign(user)}` });
    const before = executions.length;
    const first = await charge({ amount: 7 }, key, await as(ada));
    const second = await charge({ amount: 7 }, key, await as(bob));
    expect([first.status, second.status]).toEqual([200, 200]);
    const [adaCharge, bobCharge] = [await chargeIdOf(first), await chargeIdOf(second)];
    expect(bobCharge).not.toBe(adaCharge);
    expect(executions.length - before).toBe(2);
    // Each one's repeat replays their own result (with a new token: the caller is the user).
    expect(await chargeIdOf(await charge({ amount: 7 }, key, await as(ada)))).toBe(adaCharge);
    expect(await chargeIdOf(await charge({ amount: 7 }, key, await as(bob)))).toBe(bobCharge);
    expect(executions.length - before).toBe(2);
  });

  it('is scoped per caller: two client addresses with one key and input do not share a result', async () => {
    const key = `key-${randomUUID()}`;
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const before = executions.length;
    const first = await chargeIdOf(await charge({ amount: 8 }, key, from('198.51.100.1')));
    const second = await chargeIdOf(await charge({ amount: 8 }, key, from('198.51.100.2')));
    expect(second).not.toBe(first);
    expect(await chargeIdOf(await charge({ amount: 8 }, key, from('198.51.100.1')))).toBe(first);
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
