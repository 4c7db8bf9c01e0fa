import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier } from '@switchyard/infra/auth';
import { createPgPool, migrate } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { createRedisClient, type Redis } from '@switchyard/infra/redis';
import type { Service } from '@switchyard/infra/server';
import {
  captureLogs,
  createTestDatabase,
  pollUntil,
  startTestRedis,
  type LogCapture,
  type TestDatabase,
  type TestRedis,
} from '@switchyard/infra/testing';
import { readEnv } from './env.js';
import type { KeyStore } from './keys.js';
import { createAuthService } from './server.js';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

let db: TestDatabase;
let redis: TestRedis;
let pool: ReturnType<typeof createPgPool>;
const services: Service[] = [];
const subscribers: Redis[] = [];
const urls: string[] = [];
const logs: LogCapture[] = [];
let admin: Redis;

/** An auth instance on `redisUrl` and the database of `pool`, listening on a free port, logging into `capture`. */
async function startInstance(options: {
  redisUrl: string;
  pool: ReturnType<typeof createPgPool>;
  databaseUrl: string;
  capture: LogCapture;
  name: string;
}) {
  const config = readEnv({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    AUTH_KEY_SECRET: 'test-secret-that-is-long-enough-0123456789',
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    DRAIN_DELAY_MS: '0',
    // Tests give each caller an address of its own in X-Forwarded-For (see `rpc`).
    TRUSTED_PROXIES: '127.0.0.1',
  });
  const subscriber = createRedisClient({ url: options.redisUrl, role: 'blocking', name: options.name });
  const { service, keys } = await createAuthService({
    config,
    pool: options.pool,
    subscriber,
    logger: createLogger({ service: 'auth', destination: options.capture.stream }),
  });
  return { service, keys, subscriber, url: (await service.start()).url };
}

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startTestRedis()]);
  const log0 = captureLogs();
  await migrate({ databaseUrl: db.url, dir: MIGRATIONS, logger: createLogger({ service: 'auth', destination: log0.stream }) });
  pool = createPgPool({ connectionString: db.url, max: 6 });
  for (let i = 0; i < 2; i++) {
    const capture = captureLogs();
    logs.push(capture);
    const started = await startInstance({ redisUrl: redis.url, pool, databaseUrl: db.url, capture, name: `auth-sub-${i}` });
    subscribers.push(started.subscriber);
    services.push(started.service);
    urls.push(started.url);
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
  result?: { data: { json: Record<string, unknown> } };
  error?: { json: { message: string; data: { appCode: string; httpStatus: number } } };
};

/**
 * Each test calls from an address of its own, so that the sign-in limit per address (50 in
 * 15 minutes) counts one test's attempts, never the whole file's.
 */
const addresses = new Map<string, string>();
function addressOfThisTest(): string {
  const name = expect.getState().currentTestName ?? 'outside any test';
  let address = addresses.get(name);
  if (!address) {
    const n = addresses.size + 1;
    address = `10.1.${n >> 8}.${n & 255}`;
    addresses.set(name, address);
  }
  return address;
}

async function rpc(
  url: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
  method: 'POST' | 'GET' = 'POST',
) {
  const all = { 'x-forwarded-for': addressOfThisTest(), ...headers };
  const res =
    method === 'POST'
      ? await fetch(`${url}/trpc/${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...all },
          body: JSON.stringify({ json: input }),
        })
      : await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers: all });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

const tokensOf = (r: { body: Body }) => r.body.result!.data.json as { accessToken: string; refreshToken: string };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const PASSWORD = 'correct horse 42 battery';
/** Moves a family's rotations an hour back: its grace period (10 s) is over without waiting for it. */
const endGrace = (token: string) =>
  pool.query("UPDATE refresh_tokens SET rotated_at = rotated_at - interval '1 hour' WHERE family_id = $1", [token.split('.')[1]]);

/** A new address nobody registered yet (normalised: lower-case). */
const newEmail = (name: string) => `${name}-${randomBytes(4).toString('hex')}@example.com`;
/** Registers an account of the calling test's own: its email. */
async function account(name: string, url = urls[0]!): Promise<string> {
  const email = newEmail(name);
  expect((await rpc(url, 'register', { email, password: PASSWORD })).status).toBe(200);
  return email;
}
async function signIn(email: string, url = urls[0]!, extra: Record<string, unknown> = {}) {
  const res = await rpc(url, 'login', { email, password: PASSWORD, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

/**
 * Waits until the clock is past the second `accessToken` was issued in: `iat` has whole seconds,
 * so a revocation from then on is strictly later than the token.
 */
function pastIssueSecond(accessToken: string) {
  const { iat } = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { iat: number };
  return pollUntil('the second after the token was issued', () => Date.now() >= (iat + 1) * 1000, { timeoutMs: 5_000 });
}

/**
 * Revocations reach every instance over Redis pub/sub within milliseconds. The bound leaves room
 * for a loaded 2-core machine; an instance that missed the announcement (it would learn only on
 * a restart) still fails it.
 */
const REVOCATION_BOUND_MS = 5_000;
const refusedEverywhere = (accessToken: string) =>
  pollUntil(
    'the access token refused by every instance',
    async () =>
      (await Promise.all(urls.map(async (u) => (await rpc(u, 'me', {}, bearer(accessToken), 'GET')).status))).every(
        (s) => s === 401,
      ),
    { timeoutMs: REVOCATION_BOUND_MS },
  );

describe('auth over real HTTP (2 instances, shared Postgres and Redis)', () => {
  it('registers without revealing whether an address exists, and normalises the email', async () => {
    const name = newEmail('ada').split('@')[0]!;
    const first = await rpc(urls[0]!, 'register', { email: `  ${name}@Example.COM `, password: PASSWORD });
    const again = await rpc(urls[1]!, 'register', { email: `${name.toUpperCase()}@example.com`, password: 'another pass 99' });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(JSON.stringify(again.body)).toBe(JSON.stringify(first.body));
    const rows = await pool.query<{ email: string }>('SELECT email FROM users WHERE lower(email) = $1', [`${name}@example.com`]);
    expect(rows.rows).toEqual([{ email: `${name}@example.com` }]);
    const weak = await rpc(urls[0]!, 'register', { email: newEmail('bob'), password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.error?.json.message).toMatch(/password/);
  });

  it('logs in; a wrong password and an unknown account get the same answer', async () => {
    const email = await account('ada');
    const wrong = await rpc(urls[0]!, 'login', { email, password: 'wrong password 1' });
    const unknown = await rpc(urls[0]!, 'login', { email: newEmail('nobody'), password: 'wrong password 1' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error?.json.message).toBe(unknown.body.error?.json.message);
    const ok = await rpc(urls[1]!, 'login', { email: `  ${email.toUpperCase()} `, password: PASSWORD });
    expect(ok.status).toBe(200);
    const me = await rpc(urls[0]!, 'me', {}, bearer(tokensOf(ok).accessToken), 'GET');
    expect(me.body.result?.data.json).toMatchObject({ email, roles: ['member'] });
  });

  it('serves a JWKS that another service verifies tokens with', async () => {
    const ok = await signIn(await account('jwks'));
    const verify = createAccessTokenVerifier({ jwksUrl: `${urls[1]}/.well-known/jwks.json` });
    const verified = await verify(tokensOf(ok).accessToken);
    expect(verified.user.roles).toEqual(['member']);
  });

  it('rotates refresh tokens; reusing an old one revokes the family, the newest included', async () => {
    const login = tokensOf(await signIn(await account('rotate')));
    const second = await rpc(urls[1]!, 'refresh', { refreshToken: login.refreshToken });
    expect(second.status).toBe(200);
    const newest = tokensOf(second).refreshToken;
    expect(newest).not.toBe(login.refreshToken);
    await endGrace(newest);
    const reuse = await rpc(urls[0]!, 'refresh', { refreshToken: login.refreshToken });
    expect(reuse.status).toBe(401);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: newest })).status).toBe(401);
    // An access token is no refresh token.
    expect((await rpc(urls[0]!, 'refresh', { refreshToken: login.accessToken.slice(0, 290) })).status).toBe(401);
  });

  it('10 concurrent refreshes of one token across instances: all succeed with the same successor, which rotates next', async () => {
    const { refreshToken } = tokensOf(await signIn(await account('concurrent')));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => rpc(urls[i % 2]!, 'refresh', { refreshToken })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const successors = new Set(results.map((r) => tokensOf(r).refreshToken));
    expect(successors.size).toBe(1);
    const [successor] = successors as Set<string>;
    expect(successor).not.toBe(refreshToken);
    // One family, two tokens: the first (rotated) and its successor (current).
    const family = refreshToken.split('.')[1]!;
    const { rows } = await pool.query<{ id: string; current: boolean }>(
      `SELECT t.id, t.id = f.current_token_id AS current
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE f.id = $1 ORDER BY t.created_at`,
      [family],
    );
    expect(rows.map((r) => r.current)).toEqual([false, true]);
    expect(rows[1]!.id).toBe(successor!.split('.')[2]);
    // The user stays signed in: the successor rotates, and its own successor works after it.
    const next = await rpc(urls[1]!, 'refresh', { refreshToken: successor });
    expect(next.status).toBe(200);
    expect((await rpc(urls[0]!, 'refresh', { refreshToken: tokensOf(next).refreshToken })).status).toBe(200);
  });

  it('a token whose family moved on by more than one rotation within the grace period is refused without revoking', async () => {
    const login = await signIn(await account('lee'), urls[0], { useCookie: true });
    const setCookies = login.headers.getSetCookie();
    const csrf = setCookies.find((c) => c.startsWith('sy_csrf='))!.split(';')[0]!;
    const withCookie = (token: string) => ({ cookie: `sy_rt=${token}; ${csrf}`, 'x-csrf-token': csrf.split('=')[1]! });
    const rtOf = (r: { headers: Headers }) =>
      r.headers
        .getSetCookie()
        .find((c) => c.startsWith('sy_rt='))!
        .split(';')[0]!
        .slice(6);
    const first = rtOf(login);
    const second = rtOf(await rpc(urls[1]!, 'refresh', {}, withCookie(first)));
    const third = rtOf(await rpc(urls[0]!, 'refresh', {}, withCookie(second)));
    const late = await rpc(urls[1]!, 'refresh', {}, withCookie(first));
    expect(late.status).toBe(401);
    expect(late.body.error?.json.data.appCode).toBe('UNAUTHENTICATED');
    // The browser's cookie jar already holds a newer token: it is left alone.
    expect(late.headers.getSetCookie()).toEqual([]);
    expect((await rpc(urls[0]!, 'refresh', {}, withCookie(third))).status).toBe(200);
  });

  it('refuses malformed and forged refresh tokens with 401, never a server error', async () => {
    const { refreshToken } = tokensOf(await signIn(await account('forged')));
    const [, family, id, secret] = refreshToken.split('.') as [string, string, string, string];
    const hostile = [
      'rt1',
      `rt1.${'-'.repeat(36)}.${'-'.repeat(36)}.${secret}`,
      `rt1.${family.toUpperCase()}.${id}.${secret}`,
      `rt1.${family}.${id}.${'A'.repeat(43)}`,
      `rt1.${family}.${family}.${secret}`,
      `rt1.${id}.${id}.${secret}`,
      `rt2.${family}.${id}.${secret}`,
      `${refreshToken}x`,
      "rt1.'; DROP TABLE refresh_tokens; --",
    ];
    for (const token of hostile) {
      const res = await rpc(urls[0]!, 'refresh', { refreshToken: token });
      expect([token, res.status]).toEqual([token, 401]);
    }
    // None of them touched the sign-in.
    expect((await rpc(urls[1]!, 'refresh', { refreshToken })).status).toBe(200);
  });

  it('flushing Redis neither revives a revoked refresh token nor ends a live sign-in', async () => {
    const email = await account('flush');
    const { refreshToken } = tokensOf(await signIn(email));
    const rotated = tokensOf(await rpc(urls[0]!, 'refresh', { refreshToken })).refreshToken;
    const newest = tokensOf(await rpc(urls[0]!, 'refresh', { refreshToken: rotated })).refreshToken;
    await endGrace(refreshToken);
    expect((await rpc(urls[0]!, 'refresh', { refreshToken })).status).toBe(401); // reuse: family revoked
    const live = tokensOf(await signIn(email, urls[1])).refreshToken;
    await admin.flushall();
    for (const token of [refreshToken, rotated, newest])
      expect((await rpc(urls[0]!, 'refresh', { refreshToken: token })).status).toBe(401);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: live })).status).toBe(200);
  });

  it('logout everywhere: a still-valid access token is refused by every instance', async () => {
    const { accessToken, refreshToken } = tokensOf(await signIn(await account('eve')));
    await pastIssueSecond(accessToken);
    expect((await rpc(urls[1]!, 'me', {}, bearer(accessToken), 'GET')).status).toBe(200);
    expect((await rpc(urls[0]!, 'logoutEverywhere', {}, bearer(accessToken))).status).toBe(200);
    await refusedEverywhere(accessToken);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken })).status).toBe(401);
  });

  it('disabling a user ends their sessions and refuses their access tokens on every instance', async () => {
    const rootEmail = await account('root');
    await pool.query("UPDATE users SET roles = '{member,admin}' WHERE email = $1", [rootEmail]);
    const root = tokensOf(await signIn(rootEmail)).accessToken;
    const zedEmail = await account('zed');
    const zed = tokensOf(await signIn(zedEmail, urls[1]));
    const zedId = (await rpc(urls[0]!, 'me', {}, bearer(zed.accessToken), 'GET')).body.result!.data.json.id as string;
    await pastIssueSecond(zed.accessToken);
    // Only an admin may disable.
    expect((await rpc(urls[0]!, 'disableUser', { id: zedId }, bearer(zed.accessToken))).status).toBe(403);
    expect((await rpc(urls[0]!, 'disableUser', { id: zedId }, bearer(root))).status).toBe(200);
    await refusedEverywhere(zed.accessToken);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: zed.refreshToken })).status).toBe(401);
    expect((await rpc(urls[1]!, 'login', { email: zedEmail, password: PASSWORD })).status).toBe(401);
  });

  it('logout ends that sign-in: its access token is refused everywhere, another sign-in keeps working', async () => {
    const email = await account('two-sessions');
    const a = tokensOf(await signIn(email, urls[0]));
    const b = tokensOf(await signIn(email, urls[1]));
    expect((await rpc(urls[0]!, 'logout', { refreshToken: a.refreshToken })).status).toBe(200);
    await refusedEverywhere(a.accessToken);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: a.refreshToken })).status).toBe(401);
    for (const u of urls) expect((await rpc(u, 'me', {}, bearer(b.accessToken), 'GET')).status).toBe(200);
  });

  it('delivers the refresh token to browsers as an HttpOnly cookie and demands the CSRF header', async () => {
    const login = await signIn(await account('cookie'), urls[0], { useCookie: true });
    expect(tokensOf(login).refreshToken).toBe('');
    const setCookies = login.headers.getSetCookie();
    const rt = setCookies.find((c) => c.startsWith('sy_rt='))!;
    const csrf = setCookies.find((c) => c.startsWith('sy_csrf='))!;
    expect(rt).toMatch(/HttpOnly/);
    expect(rt).toMatch(/Secure/);
    expect(rt).toMatch(/SameSite=Strict/);
    expect(rt).toMatch(/Path=\/api\/auth\//);
    const cookie = [rt, csrf].map((c) => c.split(';')[0]).join('; ');
    const csrfValue = csrf.split(';')[0]!.split('=')[1]!;
    expect((await rpc(urls[1]!, 'refresh', {}, { cookie })).status).toBe(403);
    expect((await rpc(urls[1]!, 'refresh', {}, { cookie, 'x-csrf-token': 'wrong' })).status).toBe(403);
    const ok = await rpc(urls[1]!, 'refresh', {}, { cookie, 'x-csrf-token': csrfValue });
    expect(ok.status).toBe(200);
    expect(ok.headers.getSetCookie().some((c) => c.startsWith('sy_rt=rt1.'))).toBe(true);
  });

  it('limits sign-in attempts per account, shared by the instances', async () => {
    const email = await account('mallory');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push((await rpc(urls[i % 2]!, 'login', { email, password: `guess number ${i}` })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('limits sign-in attempts per address across accounts: the 51st from one address is 429, another address still signs in', async () => {
    const email = await account('crowd');
    // 50 attempts from one address, each on an account of its own (no account reaches its limit of 10).
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++)
      statuses.push((await rpc(urls[i % 2]!, 'login', { email: newEmail(`guess-${i}`), password: 'wrong password 1' })).status);
    expect(statuses).toEqual(Array(50).fill(401));
    const refused = await rpc(urls[0]!, 'login', { email, password: PASSWORD });
    expect([refused.status, refused.body.error?.json.data.appCode]).toEqual([429, 'RATE_LIMITED']);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // The same account from another address: the address was refused, not the account.
    expect((await rpc(urls[1]!, 'login', { email, password: PASSWORD }, { 'x-forwarded-for': '10.2.0.1' })).status).toBe(200);
  });

  it('writes no password hash, password or token into any log line', async () => {
    // Every kind of call that handles a secret, on both instances.
    const email = await account('secrets');
    expect((await rpc(urls[1]!, 'login', { email, password: 'a wrong password 7' })).status).toBe(401);
    const tokens = tokensOf(await signIn(email, urls[1]));
    const rotated = tokensOf(await rpc(urls[0]!, 'refresh', { refreshToken: tokens.refreshToken }));
    expect((await rpc(urls[1]!, 'me', {}, bearer(rotated.accessToken), 'GET')).status).toBe(200);
    expect((await rpc(urls[0]!, 'logout', { refreshToken: rotated.refreshToken })).status).toBe(200);
    const all = logs.map((l) => l.text()).join('\n');
    expect(logs.every((l) => l.lines().some((line) => line.msg === 'call'))).toBe(true);
    expect(all).not.toContain('scrypt$');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain('a wrong password 7');
    expect(all).not.toMatch(/rt1\.[0-9a-f-]{36}/);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
  });
});

/**
 * A rotation changes the signing key of every instance on the database, and an instance verifies
 * tokens against a JWKS it keeps for 10 s: these tests have a database and instances of their own.
 */
describe('signing keys (a database and 2 instances of their own)', () => {
  let keyDb: TestDatabase;
  let keyPool: ReturnType<typeof createPgPool>;
  const own = { keys: [] as KeyStore[], urls: [] as string[], instances: [] as Array<Awaited<ReturnType<typeof startInstance>>> };

  beforeAll(async () => {
    keyDb = await createTestDatabase();
    await migrate({
      databaseUrl: keyDb.url,
      dir: MIGRATIONS,
      logger: createLogger({ service: 'auth', destination: captureLogs().stream }),
    });
    keyPool = createPgPool({ connectionString: keyDb.url, max: 4 });
    for (let i = 0; i < 2; i++) {
      const started = await startInstance({
        redisUrl: redis.url,
        pool: keyPool,
        databaseUrl: keyDb.url,
        capture: captureLogs(),
        name: `auth-keys-${i}`,
      });
      own.instances.push(started);
      own.keys.push(started.keys);
      own.urls.push(started.url);
    }
  });
  afterAll(async () => {
    await Promise.all(own.instances.map((i) => i.service.shutdown('done')));
    for (const i of own.instances) i.subscriber.disconnect();
    await keyPool?.end();
    await keyDb?.drop();
  });

  it('rotates signing keys: the new key signs, the old one verifies until its tokens expire, then leaves the JWKS', async () => {
    const email = await account('keys', own.urls[0]);
    const before = tokensOf(await signIn(email, own.urls[0])).accessToken;
    const oldKid = JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid as string;
    // Both instances hold the public keys from before the rotation.
    for (const url of own.urls) expect((await rpc(url, 'me', {}, bearer(before), 'GET')).status).toBe(200);
    await own.keys[0]!.rotate();
    // Instance 1 picks up the new key within its 30 s signer cache; instance 0 at once.
    const after = tokensOf(await signIn(email, own.urls[0])).accessToken;
    const newKid = JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid as string;
    expect(newKid).not.toBe(oldKid);
    // A token of the new key is accepted at once by every instance: an unknown key id reloads the keys.
    for (const url of own.urls) expect((await rpc(url, 'me', {}, bearer(after), 'GET')).status).toBe(200);
    const jwks = (await (await fetch(`${own.urls[1]}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string; d?: string }>;
    };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const verify = createAccessTokenVerifier({ jwksUrl: `${own.urls[1]}/.well-known/jwks.json` });
    await expect(verify(before)).resolves.toBeDefined();
    await expect(verify(after)).resolves.toBeDefined();
    // A key older than KEY_ROTATION_DAYS is replaced when ensure() runs (at start, then hourly).
    await keyPool.query("UPDATE signing_keys SET created_at = now() - interval '31 days' WHERE kid = $1", [newKid]);
    await own.keys[1]!.ensure(30 * 86_400_000);
    const { rows } = await keyPool.query<{ kid: string }>('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.kid).not.toBe(newKid);
    // Once the old key's last token has expired, it leaves the JWKS and its tokens fail.
    await keyPool.query("UPDATE signing_keys SET retired_at = now() - interval '1 hour' WHERE kid = $1", [oldKid]);
    const later = createAccessTokenVerifier({ jwksUrl: `${own.urls[1]}/.well-known/jwks.json` });
    await expect(later(before)).rejects.toThrow();
    await expect(later(after)).resolves.toBeDefined();
  });
});

/**
 * The longest a sign-in may take to answer 503 while Redis is out. The limiter waits 200 ms for
 * Redis, its client gives up after 1 s at the latest, scrypt takes tens of ms: 3 s leaves room for
 * a loaded 2-core machine, and a sign-in hanging on a frozen Redis still fails it.
 */
const OUTAGE_ANSWER_MS = 3_000;

describe('sign-in while Redis is out (an instance and a Redis of its own)', () => {
  let outage: TestRedis;
  let instance: Awaited<ReturnType<typeof startInstance>>;

  beforeAll(async () => {
    outage = await startTestRedis();
    instance = await startInstance({
      redisUrl: outage.url,
      pool,
      databaseUrl: db.url,
      capture: captureLogs(),
      name: 'auth-outage-sub',
    });
  });
  afterAll(async () => {
    outage?.resume();
    await instance?.service.shutdown('done');
    instance?.subscriber.disconnect();
    await outage?.stop();
  });

  /** Sign-in attempts while Redis is out: each answers 503 UNAVAILABLE with a Retry-After, within the bound. */
  async function expectUnavailable(email: string) {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await rpc(instance.url, 'login', { email, password: PASSWORD });
      const tookMs = performance.now() - t0;
      expect([res.status, res.body.error?.json.data.appCode]).toEqual([503, 'UNAVAILABLE']);
      expect(res.body.error?.json.message).toBe('Sign-in is unavailable right now; try again shortly');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(tookMs).toBeLessThan(OUTAGE_ANSWER_MS);
    }
  }

  /** Signs in again once Redis is back; no attempt meanwhile answers 429. */
  async function expectBack(email: string) {
    const seen = new Set<number>();
    await pollUntil(
      'a sign-in that succeeds once Redis is back',
      async () => {
        const { status } = await rpc(instance.url, 'login', { email, password: PASSWORD });
        seen.add(status);
        return status === 200;
      },
      // Redis' client reconnects within 500 ms, the limiter tries Redis again every 250 ms.
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect([...seen].filter((s) => s !== 200 && s !== 503)).toEqual([]);
  }

  it('Redis killed: sign-in answers 503 UNAVAILABLE (never 429) at once, and works again after Redis restarts', async () => {
    const email = await account('outage-killed', instance.url);
    await signIn(email, instance.url);
    await outage.kill();
    try {
      await expectUnavailable(email);
    } finally {
      await outage.restart();
    }
    await expectBack(email);
  });

  it('Redis frozen: sign-in answers 503 UNAVAILABLE (never 429) within the bound, and works again after Redis resumes', async () => {
    const email = await account('outage-frozen', instance.url);
    await signIn(email, instance.url);
    outage.pause();
    try {
      await expectUnavailable(email);
    } finally {
      outage.resume();
    }
    await expectBack(email);
  });
});
