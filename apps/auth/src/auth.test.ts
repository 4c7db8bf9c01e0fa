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
const keyStores: KeyStore[] = [];
const subscribers: Redis[] = [];
const urls: string[] = [];
const logs: LogCapture[] = [];
let admin: Redis;

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startTestRedis()]);
  const log0 = captureLogs();
  await migrate({ databaseUrl: db.url, dir: MIGRATIONS, logger: createLogger({ service: 'auth', destination: log0.stream }) });
  pool = createPgPool({ connectionString: db.url, max: 6 });
  const config = readEnv({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    AUTH_KEY_SECRET: 'test-secret-that-is-long-enough-0123456789',
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    DRAIN_DELAY_MS: '0',
  });
  for (let i = 0; i < 2; i++) {
    const capture = captureLogs();
    logs.push(capture);
    const subscriber = createRedisClient({ url: redis.url, role: 'blocking', name: `auth-sub-${i}` });
    subscribers.push(subscriber);
    const { service, keys } = await createAuthService({
      config,
      pool,
      subscriber,
      logger: createLogger({ service: 'auth', destination: capture.stream }),
    });
    services.push(service);
    keyStores.push(keys);
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
  result?: { data: { json: Record<string, unknown> } };
  error?: { json: { message: string; data: { appCode: string; httpStatus: number } } };
};

async function rpc(
  url: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
  method: 'POST' | 'GET' = 'POST',
) {
  const res =
    method === 'POST'
      ? await fetch(`${url}/trpc/${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ json: input }),
        })
      : await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

const tokensOf = (r: { body: Body }) => r.body.result!.data.json as { accessToken: string; refreshToken: string };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const email = (name: string) => `  ${name}@Example.COM `;
const PASSWORD = 'correct horse 42 battery';
/** Moves a family's rotations an hour back: its grace period (10 s) is over without waiting for it. */
const endGrace = (token: string) =>
  pool.query("UPDATE refresh_tokens SET rotated_at = rotated_at - interval '1 hour' WHERE family_id = $1", [token.split('.')[1]]);

describe('auth over real HTTP (2 instances, shared Postgres and Redis)', () => {
  it('registers without revealing whether an address exists, and normalises the email', async () => {
    const first = await rpc(urls[0]!, 'register', { email: email('ada'), password: PASSWORD });
    const again = await rpc(urls[1]!, 'register', { email: 'ADA@example.com', password: 'another pass 99' });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(JSON.stringify(again.body)).toBe(JSON.stringify(first.body));
    const rows = await pool.query<{ email: string }>("SELECT email FROM users WHERE email LIKE 'ada%'");
    expect(rows.rows).toEqual([{ email: 'ada@example.com' }]);
    const weak = await rpc(urls[0]!, 'register', { email: 'bob@example.com', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.error?.json.message).toMatch(/password/);
  });

  it('logs in; a wrong password and an unknown account get the same answer', async () => {
    const wrong = await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: 'wrong password 1' });
    const unknown = await rpc(urls[0]!, 'login', { email: 'nobody@example.com', password: 'wrong password 1' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error?.json.message).toBe(unknown.body.error?.json.message);
    const ok = await rpc(urls[1]!, 'login', { email: email('ada'), password: PASSWORD });
    expect(ok.status).toBe(200);
    const me = await rpc(urls[0]!, 'me', {}, bearer(tokensOf(ok).accessToken), 'GET');
    expect(me.body.result?.data.json).toMatchObject({ email: 'ada@example.com', roles: ['member'] });
  });

  it('serves a JWKS that another service verifies tokens with', async () => {
    const ok = await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD });
    const verify = createAccessTokenVerifier({ jwksUrl: `${urls[1]}/.well-known/jwks.json` });
    const verified = await verify(tokensOf(ok).accessToken);
    expect(verified.user.roles).toEqual(['member']);
  });

  it('rotates refresh tokens; reusing an old one revokes the family, the newest included', async () => {
    const login = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD }));
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
    const { refreshToken } = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD }));
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
    await rpc(urls[0]!, 'register', { email: 'lee@example.com', password: PASSWORD });
    const login = await rpc(urls[0]!, 'login', { email: 'lee@example.com', password: PASSWORD, useCookie: true });
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
    await rpc(urls[0]!, 'register', { email: 'lee@example.com', password: PASSWORD });
    const { refreshToken } = tokensOf(await rpc(urls[0]!, 'login', { email: 'lee@example.com', password: PASSWORD }));
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
    const { refreshToken } = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD }));
    const rotated = tokensOf(await rpc(urls[0]!, 'refresh', { refreshToken })).refreshToken;
    const newest = tokensOf(await rpc(urls[0]!, 'refresh', { refreshToken: rotated })).refreshToken;
    await endGrace(refreshToken);
    expect((await rpc(urls[0]!, 'refresh', { refreshToken })).status).toBe(401); // reuse: family revoked
    const live = tokensOf(await rpc(urls[1]!, 'login', { email: 'ada@example.com', password: PASSWORD })).refreshToken;
    await admin.flushall();
    for (const token of [refreshToken, rotated, newest])
      expect((await rpc(urls[0]!, 'refresh', { refreshToken: token })).status).toBe(401);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: live })).status).toBe(200);
  });

  it('logout everywhere: a still-valid access token is refused by every instance within 1 s', async () => {
    await rpc(urls[0]!, 'register', { email: 'eve@example.com', password: PASSWORD });
    const { accessToken, refreshToken } = tokensOf(
      await rpc(urls[0]!, 'login', { email: 'eve@example.com', password: PASSWORD }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // iat is in whole seconds
    expect((await rpc(urls[1]!, 'me', {}, bearer(accessToken), 'GET')).status).toBe(200);
    const t0 = Date.now();
    expect((await rpc(urls[0]!, 'logoutEverywhere', {}, bearer(accessToken))).status).toBe(200);
    let statuses: number[] = [];
    while (Date.now() - t0 < 1_000) {
      statuses = await Promise.all(urls.map(async (u) => (await rpc(u, 'me', {}, bearer(accessToken), 'GET')).status));
      if (statuses.every((s) => s === 401)) break;
    }
    expect(statuses).toEqual([401, 401]);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken })).status).toBe(401);
  });

  it('disabling a user ends their sessions and refuses their access tokens on every instance within 1 s', async () => {
    await rpc(urls[0]!, 'register', { email: 'root@example.com', password: PASSWORD });
    await pool.query("UPDATE users SET roles = '{member,admin}' WHERE email = 'root@example.com'");
    const root = tokensOf(await rpc(urls[0]!, 'login', { email: 'root@example.com', password: PASSWORD })).accessToken;
    await rpc(urls[0]!, 'register', { email: 'zed@example.com', password: PASSWORD });
    const zed = tokensOf(await rpc(urls[1]!, 'login', { email: 'zed@example.com', password: PASSWORD }));
    const zedId = (await rpc(urls[0]!, 'me', {}, bearer(zed.accessToken), 'GET')).body.result!.data.json.id as string;
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // iat has 1 s resolution
    // Only an admin may disable.
    expect((await rpc(urls[0]!, 'disableUser', { id: zedId }, bearer(zed.accessToken))).status).toBe(403);
    const t0 = Date.now();
    expect((await rpc(urls[0]!, 'disableUser', { id: zedId }, bearer(root))).status).toBe(200);
    let statuses: number[] = [];
    while (Date.now() - t0 < 1_000) {
      statuses = await Promise.all(urls.map(async (u) => (await rpc(u, 'me', {}, bearer(zed.accessToken), 'GET')).status));
      if (statuses.every((s) => s === 401)) break;
    }
    expect(statuses).toEqual([401, 401]);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: zed.refreshToken })).status).toBe(401);
    expect((await rpc(urls[1]!, 'login', { email: 'zed@example.com', password: PASSWORD })).status).toBe(401);
  });

  it('logout ends that sign-in: its access token is refused everywhere within 1 s, another sign-in keeps working', async () => {
    const a = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD }));
    const b = tokensOf(await rpc(urls[1]!, 'login', { email: 'ada@example.com', password: PASSWORD }));
    const t0 = Date.now();
    expect((await rpc(urls[0]!, 'logout', { refreshToken: a.refreshToken })).status).toBe(200);
    let statuses: number[] = [];
    while (Date.now() - t0 < 1_000) {
      statuses = await Promise.all(urls.map(async (u) => (await rpc(u, 'me', {}, bearer(a.accessToken), 'GET')).status));
      if (statuses.every((s) => s === 401)) break;
    }
    expect(statuses).toEqual([401, 401]);
    expect((await rpc(urls[1]!, 'refresh', { refreshToken: a.refreshToken })).status).toBe(401);
    for (const u of urls) expect((await rpc(u, 'me', {}, bearer(b.accessToken), 'GET')).status).toBe(200);
  });

  it('delivers the refresh token to browsers as an HttpOnly cookie and demands the CSRF header', async () => {
    const login = await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD, useCookie: true });
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
    await rpc(urls[0]!, 'register', { email: 'mallory@example.com', password: PASSWORD });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push((await rpc(urls[i % 2]!, 'login', { email: 'mallory@example.com', password: `guess number ${i}` })).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('rotates signing keys: the new key signs, the old one verifies until its tokens expire, then leaves the JWKS', async () => {
    const before = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD })).accessToken;
    const oldKid = JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid as string;
    await keyStores[0]!.rotate();
    // Instance 1 picks up the new key within its 30 s signer cache; instance 0 at once.
    const after = tokensOf(await rpc(urls[0]!, 'login', { email: 'ada@example.com', password: PASSWORD })).accessToken;
    const newKid = JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid as string;
    expect(newKid).not.toBe(oldKid);
    const jwks = (await (await fetch(`${urls[1]}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const verify = createAccessTokenVerifier({ jwksUrl: `${urls[1]}/.well-known/jwks.json` });
    await expect(verify(before)).resolves.toBeDefined();
    await expect(verify(after)).resolves.toBeDefined();
    // A key older than KEY_ROTATION_DAYS is replaced when ensure() runs (at start, then hourly).
    await pool.query("UPDATE signing_keys SET created_at = now() - interval '31 days' WHERE kid = $1", [newKid]);
    await keyStores[1]!.ensure(30 * 86_400_000);
    const { rows } = await pool.query<{ kid: string }>('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.kid).not.toBe(newKid);
    // Once the old key's last token has expired, it leaves the JWKS and its tokens fail.
    await pool.query("UPDATE signing_keys SET retired_at = now() - interval '1 hour' WHERE kid = $1", [oldKid]);
    const later = createAccessTokenVerifier({ jwksUrl: `${urls[1]}/.well-known/jwks.json` });
    await expect(later(before)).rejects.toThrow();
    await expect(later(after)).resolves.toBeDefined();
  });

  it('writes no password hash, password or token into any log line', async () => {
    const all = logs.map((l) => l.text()).join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain('scrypt$');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toMatch(/rt1\.[0-9a-f-]{36}/);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
  });
});
