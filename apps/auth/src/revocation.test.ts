import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVOKED_SESSIONS_HASH } from '@switchyard/infra/auth';
import { createPgPool, migrate } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { createRedisClient, type Redis } from '@switchyard/infra/redis';
import type { Service } from '@switchyard/infra/server';
import {
  captureLogs,
  createTestDatabase,
  pollUntil,
  startTestRedis,
  type TestDatabase,
  type TestRedis,
} from '@switchyard/infra/testing';
import { readEnv } from './env.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { createAuthService } from './server.js';

// Sign-ins against Redis losing data: restored from an older snapshot, or flushed. PostgreSQL is
// the record of sign-ins, so neither brings a logged-out one back. The grace period is short here
// so that its end comes within the test.
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const GRACE_MS = 2_000;
const SECRET = 'test-secret-that-is-long-enough-0123456789';
const PASSWORD = 'correct horse 42 battery';

let db: TestDatabase;
let redis: TestRedis;
let pool: ReturnType<typeof createPgPool>;
let admin: Redis;
const services: Service[] = [];
/** Each instance's own Redis connection. */
const serviceRedis: Redis[] = [];
const subscribers: Redis[] = [];
const urls: string[] = [];

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startTestRedis({ persist: true })]);
  await migrate({
    databaseUrl: db.url,
    dir: MIGRATIONS,
    logger: createLogger({ service: 'auth', destination: captureLogs().stream }),
  });
  pool = createPgPool({ connectionString: db.url, max: 6 });
  const config = readEnv({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    AUTH_KEY_SECRET: SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    DRAIN_DELAY_MS: '0',
    SCRYPT_COST: '1024',
  });
  for (let i = 0; i < 2; i++) {
    const subscriber = createRedisClient({ url: redis.url, role: 'blocking', name: `auth-sub-${i}` });
    subscribers.push(subscriber);
    const logger = createLogger({ service: 'auth', destination: captureLogs().stream });
    const { service, redis: own } = await createAuthService({ config, pool, subscriber, logger, refreshGraceMs: GRACE_MS });
    services.push(service);
    serviceRedis.push(own);
    urls.push((await service.start()).url);
  }
  admin = createRedisClient({ url: redis.url, role: 'blocking', name: 'admin' });
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.shutdown('done')));
  for (const s of subscribers) s.disconnect();
  admin?.disconnect();
  await pool?.end();
  await redis?.stop();
  await db?.drop();
});

type Body = {
  result?: { data: { json: { accessToken: string; refreshToken: string } } };
  error?: { json: { data: { appCode: string } } };
};

async function rpc(url: string, path: string, input: unknown, headers: Record<string, string> = {}, method = 'POST') {
  const res =
    method === 'POST'
      ? await fetch(`${url}/trpc/${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ json: input }),
        })
      : await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers });
  const body = (await res.json()) as Body;
  return { status: res.status, appCode: body.error?.json.data.appCode, tokens: body.result?.data.json };
}

const signIn = async (email: string) => (await rpc(urls[0]!, 'login', { email, password: PASSWORD })).tokens!;
const refresh = (i: number, refreshToken: string) => rpc(urls[i]!, 'refresh', { refreshToken });
const me = (i: number, accessToken: string) => rpc(urls[i]!, 'me', {}, { authorization: `Bearer ${accessToken}` }, 'GET');

describe('sign-ins survive Redis losing data, and revoked ones stay revoked (PostgreSQL is the record)', () => {
  beforeAll(async () => {
    await rpc(urls[0]!, 'register', { email: 'kim@example.com', password: PASSWORD });
  });

  it('a sign-out stays in force after Redis restarts from a snapshot taken before it', async () => {
    const out = await signIn('kim@example.com');
    const live = await signIn('kim@example.com');
    const family = out.refreshToken.split('.')[1]!;
    await admin.set('probe', 'in the snapshot');
    expect(await admin.save()).toBe('OK');
    expect((await rpc(urls[1]!, 'logout', { refreshToken: out.refreshToken })).status).toBe(200);
    expect(await admin.hexists(REVOKED_SESSIONS_HASH, family)).toBe(1);
    expect((await refresh(0, out.refreshToken)).appCode).toBe('UNAUTHENTICATED');

    await redis.kill();
    await redis.restart();
    // Redis is back as the snapshot left it: the probe is there, the sign-out is not.
    await pollUntil('Redis restored from the snapshot', async () => (await admin.get('probe')) === 'in the snapshot');
    expect(await admin.hexists(REVOKED_SESSIONS_HASH, family)).toBe(0);
    await pollUntil('the instances reconnected', async () =>
      (await Promise.all(serviceRedis.map((r) => r.ping()))).every((pong) => pong === 'PONG'),
    );

    for (const i of [0, 1]) {
      const again = await refresh(i, out.refreshToken);
      expect([again.status, again.appCode]).toEqual([401, 'UNAUTHENTICATED']);
      // Running instances keep the access-token revocation they were told about.
      expect((await me(i, out.accessToken)).status).toBe(401);
    }
    expect((await refresh(1, live.refreshToken)).status).toBe(200);
  });

  it('FLUSHALL revives no signed-out sign-in and ends no live one', async () => {
    const out = await signIn('kim@example.com');
    const live = await signIn('kim@example.com');
    expect((await rpc(urls[0]!, 'logout', { refreshToken: out.refreshToken })).status).toBe(200);
    await admin.flushall();
    const again = await refresh(1, out.refreshToken);
    expect([again.status, again.appCode]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await refresh(0, live.refreshToken)).status).toBe(200);
  });

  it('a rotated token gets the same successor within the grace period; replayed after it, it revokes the family', async () => {
    const first = await signIn('kim@example.com');
    const rotatedAt = Date.now();
    const successor = (await refresh(0, first.refreshToken)).tokens!;
    // Replays every 100 ms until the first refusal: each one before it gets the same successor
    // back. The grace period runs on the database's clock, this machine's (the server is local).
    // The refusal must come within the grace period plus room for a loaded 2-core machine.
    const graceAnswers: string[] = [];
    const replay = await pollUntil(
      'a replay refused after the grace period',
      async () => {
        const answer = await refresh(graceAnswers.length % 2, first.refreshToken);
        if (answer.status !== 200) return answer;
        graceAnswers.push(answer.tokens!.refreshToken);
        return false;
      },
      { timeoutMs: GRACE_MS + 5_000, intervalMs: 100 },
    );
    expect(graceAnswers.length).toBeGreaterThan(0);
    expect(new Set(graceAnswers)).toEqual(new Set([successor.refreshToken]));
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(GRACE_MS);
    expect([replay.status, replay.appCode]).toEqual([401, 'UNAUTHENTICATED']);
    // The whole family is revoked: the successor and the access tokens of the sign-in.
    expect((await refresh(0, successor.refreshToken)).status).toBe(401);
    await pollUntil('the sign-in revoked on both instances', async () =>
      (await Promise.all([me(0, successor.accessToken), me(1, successor.accessToken)])).every((r) => r.status === 401),
    );
  });

  it('an expired sign-in is refused, then pruned', async () => {
    const { refreshToken } = await signIn('kim@example.com');
    const family = refreshToken.split('.')[1]!;
    await pool.query("UPDATE refresh_families SET expires_at = now() - interval '1 second' WHERE id = $1", [family]);
    expect((await refresh(0, refreshToken)).status).toBe(401);
    const store = createRefreshTokens({ pool, ttlSeconds: 60, serverSecret: SECRET });
    expect(await store.prune()).toBeGreaterThanOrEqual(1);
    const { rowCount } = await pool.query('SELECT 1 FROM refresh_tokens WHERE family_id = $1', [family]);
    expect(rowCount).toBe(0);
    expect((await refresh(1, refreshToken)).status).toBe(401);
  });
});
