import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { createRedisClient, type Redis } from '../redis/redis-client.js';
import type { LogCapture } from '../testing/log-capture.js';
import { pollUntil } from '../testing/poll.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';
import { ACCESS_TOKEN, createAccessTokenVerifier } from './access-token.js';
import { Revocations } from './revocations.js';

const contract = defineContract({
  whoami: {
    type: 'query',
    input: z.object({}),
    output: z.object({ id: z.string(), roles: z.array(z.string()) }),
    access: 'user',
  },
  admin: { type: 'query', input: z.object({}), output: z.object({ ok: z.boolean() }), access: { roles: ['admin'] } },
});
let handled = 0;
const router = implement(contract, {
  whoami: ({ ctx }) => (handled++, { id: ctx.user!.id, roles: [...ctx.user!.roles] }),
  admin: () => (handled++, { ok: true }),
});

const b64 = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

let ed: Awaited<ReturnType<typeof generateKeyPair>>;
let es: Awaited<ReturnType<typeof generateKeyPair>>;
let attacker: Awaited<ReturnType<typeof generateKeyPair>>;
let publicEd: JWK;
let publicEs: JWK;
let jwks: Server;
let jwksHits = 0;
let trap: Server;
let trapHits = 0;
let jwksUrl = '';
let trapUrl = '';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Claims {
  sub?: string;
  jti?: string;
  iat?: number;
  exp?: number;
  nbf?: number;
  aud?: string;
  iss?: string;
  roles?: string[];
}

function sign(claims: Claims = {}, header: Record<string, unknown> = {}, key = es.privateKey, alg = 'ES256') {
  const body: Claims = {
    sub: USER,
    jti: randomUUID(),
    iat: now(),
    exp: now() + 300,
    aud: ACCESS_TOKEN.audience,
    iss: ACCESS_TOKEN.issuer,
    roles: ['member'],
    ...claims,
  };
  const jwt = new SignJWT(
    Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Record<string, unknown>,
  ).setProtectedHeader({
    alg,
    typ: ACCESS_TOKEN.typ,
    kid: alg === 'ES256' ? 'es-1' : 'ed-1',
    ...header,
  });
  return jwt.sign(key);
}

const USER = randomUUID();
let service: TestService;
let url = '';
let logs: LogCapture;

beforeAll(async () => {
  ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  es = await generateKeyPair('ES256');
  attacker = await generateKeyPair('ES256');
  publicEd = { ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA', use: 'sig' };
  publicEs = { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' };
  jwks = createServer((_req, res) => {
    jwksHits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicEd, publicEs] }));
  });
  trap = createServer((_req, res) => {
    trapHits++;
    res.end('{}');
  });
  jwksUrl = `${await listen(jwks)}/.well-known/jwks.json`;
  trapUrl = await listen(trap);
  service = await startTestService({
    name: 'guarded',
    router,
    verifyAccessToken: createAccessTokenVerifier({ jwksUrl, jwksCooldownMs: 60_000 }),
  });
  ({ url, logs } = service);
});

afterAll(async () => {
  await service?.close();
  jwks?.close();
  trap?.close();
});

const call = (token: string | undefined, procedure = 'whoami') =>
  fetch(`${url}/trpc/${procedure}?input=${encodeURIComponent('{"json":{}}')}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe('access tokens', () => {
  it('a valid token reaches the handler as ctx.user; no token is 401 for a user procedure; roles are checked', async () => {
    const res = await call(await sign());
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id).toBe(USER);
    const anonymous = await call(undefined);
    expect(anonymous.status).toBe(401);
    expect((await call(await sign(), 'admin')).status).toBe(403);
    expect((await call(await sign({ roles: ['admin'] }), 'admin')).status).toBe(200);
  });

  const hostile: Array<[string, () => Promise<string>]> = [
    ['alg none, empty signature', async () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ sub: USER, exp: now() + 300 })}.`],
    ...['none', 'None', 'NONE', 'nOnE'].map(
      (alg) =>
        [
          `alg "${alg}" with a junk signature`,
          async () =>
            `${b64({ alg, typ: 'at+jwt', kid: 'ed-1' })}.${b64({ sub: USER, exp: now() + 300, iat: now(), jti: randomUUID(), aud: ACCESS_TOKEN.audience, iss: ACCESS_TOKEN.issuer })}.${b64('x')}`,
        ] as [string, () => Promise<string>],
    ),
    [
      'HS256 signed with our public key as the secret',
      async () => {
        const head = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'es-1' })}.${b64({ sub: USER, jti: randomUUID(), iat: now(), exp: now() + 300, aud: ACCESS_TOKEN.audience, iss: ACCESS_TOKEN.issuer })}`;
        return `${head}.${createHmac('sha256', JSON.stringify(publicEs)).update(head).digest('base64url')}`;
      },
    ],
    ['a valid EdDSA signature (outside the allow-list)', () => sign({}, { kid: 'ed-1' }, ed.privateKey, 'EdDSA')],
    ['an injected kid (path)', () => sign({}, { kid: '../../../../etc/passwd' })],
    ['an injected kid (SQL)', () => sign({}, { kid: "ed-1' OR '1'='1" })],
    ['a jku header to another host', () => sign({}, { kid: 'attacker', jku: `${trapUrl}/jwks.json` }, attacker.privateKey)],
    ['an x5u header', () => sign({}, { kid: 'attacker', x5u: `${trapUrl}/cert.pem` }, attacker.privateKey)],
    [
      'an embedded jwk header',
      async () =>
        sign({}, { kid: 'attacker', jwk: { ...(await exportJWK(attacker.publicKey)), alg: 'EdDSA' } }, attacker.privateKey),
    ],
    ['exp just outside tolerance', () => sign({ exp: now() - 8, iat: now() - 100 })],
    ['nbf just outside tolerance', () => sign({ nbf: now() + 10 })],
    ['iat in the future beyond tolerance', () => sign({ iat: now() + 30 })],
    ['older than the maximum age', () => sign({ iat: now() - 400, exp: now() + 60 })],
    ['missing exp', () => sign({ exp: undefined })],
    ['missing jti', () => sign({ jti: undefined })],
    ['wrong audience', () => sign({ aud: 'another-api' })],
    ['wrong issuer', () => sign({ iss: 'https://evil.example' })],
    ['a refresh token (opaque) used as an access token', async () => `rt_${randomUUID()}.${randomUUID()}`],
    ['a JWT of another kind (typ rt+jwt)', () => sign({}, { typ: 'rt+jwt' })],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign()).split('.');
        return `${h}.${b64({ sub: randomUUID(), jti: randomUUID(), iat: now(), exp: now() + 300, aud: ACCESS_TOKEN.audience, iss: ACCESS_TOKEN.issuer, roles: ['admin'] })}.${s}`;
      },
    ],
    ['an oversized token', async () => `${(await sign()).slice(0, 100)}${'A'.repeat(3_000)}`],
    ['a sub that is not a user id', () => sign({ sub: 'admin' })],
  ];

  it.each(hostile)('%s: 401 with WWW-Authenticate, the handler never runs, no outbound fetch', async (_name, make) => {
    const before = handled;
    const res = await call(await make());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const body = (await res.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toBe('Invalid or expired access token');
    expect(handled).toBe(before);
    expect(trapHits).toBe(0);
  });

  it('accepts exp and nbf just inside the tolerance', async () => {
    expect((await call(await sign({ exp: now() - 3, iat: now() - 100 }))).status).toBe(200);
    expect((await call(await sign({ nbf: now() + 3 }))).status).toBe(200);
  });

  it('refetches the JWKS for an unknown kid at most once per cooldown', async () => {
    const before = jwksHits;
    for (let i = 0; i < 20; i++) await call(await sign({}, { kid: `unknown-${i}` }));
    expect(jwksHits - before).toBeLessThanOrEqual(1);
  });

  it('puts the reason in the log, never the token', async () => {
    const token = await sign({ aud: 'another-api' });
    await call(token);
    expect(logs.text()).toContain('access token refused');
    expect(logs.text()).not.toContain(token.split('.')[2]!);
  });
});

describe('revocation on every instance', () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  const services: TestService[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('logout everywhere makes a still-valid access token fail on all instances within 1 s, without Redis on the request path', async () => {
    redis = await startTestRedis();
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) {
      // A long command timeout: a Redis round trip on a request would wait for it (see below).
      const client = createRedisClient({ url: redis.url, role: 'request', name: `rev-${i}`, commandTimeoutMs: 5_000 });
      const subscriber = createRedisClient({ url: redis.url, role: 'blocking', name: `rev-sub-${i}` });
      clients.push(client, subscriber);
      await new Promise((resolve) => client.once('ready', resolve));
      const revocations = new Revocations(ACCESS_TOKEN.lifetimeSeconds * 1000);
      await revocations.follow(client, subscriber);
      const svc = await startTestService({
        name: 'guarded',
        router,
        verifyAccessToken: createAccessTokenVerifier({ jwksUrl, revokedBefore: revocations.revokedBefore }),
      });
      services.push(svc);
      urls.push(svc.url);
    }
    const token = await sign({ iat: now() - 2 });
    const ask = (u: string) =>
      fetch(`${u}/trpc/whoami?input=${encodeURIComponent('{"json":{}}')}`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.status);
    expect(await Promise.all(urls.map(ask))).toEqual([200, 200, 200]);
    const publisher = clients[0]!;
    const revokedAt = Date.now();
    await Revocations.publish(publisher, USER);
    await pollUntil('every instance refusing the token', async () => (await Promise.all(urls.map(ask))).every((s) => s === 401), {
      intervalMs: 10,
    });
    // The documented bound: the announcement itself reaches the instances in milliseconds.
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    // Redis frozen: verification still answers (no Redis round trip per request, which would
    // wait for the 5 s command timeout; 2 s is room for a loaded machine).
    redis.pause();
    try {
      const t0 = performance.now();
      expect(await Promise.all(urls.map(ask))).toEqual([401, 401, 401]);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      redis.resume();
    }
  });
});

describe('the verification cache', () => {
  it('verifies a token once, still applies revocations on every use, and refuses it once it would no longer verify', async () => {
    let keyLookups = 0;
    let revokedBefore: number | undefined;
    const publicKey = es.publicKey;
    const verify = createAccessTokenVerifier({
      keys: async () => (keyLookups++, publicKey),
      revokedBefore: () => revokedBefore,
    });
    const issued = now();
    const token = await sign({ iat: issued, exp: issued + 60 });
    for (let i = 0; i < 100; i++) expect((await verify(token)).user.id).toBe(USER);
    expect(keyLookups).toBe(1); // one signature check for 100 uses

    // Revoked after it was cached: refused at once.
    revokedBefore = (issued + 1) * 1000;
    await expect(verify(token)).rejects.toMatchObject({ reason: 'revoked' });
    revokedBefore = undefined;

    // Past its expiry plus the clock tolerance: the cache lets go and the verification refuses it.
    vi.useFakeTimers({ toFake: ['Date'], now: (issued + 60 + ACCESS_TOKEN.clockToleranceSeconds + 1) * 1000 });
    try {
      await expect(verify(token)).rejects.toMatchObject({ reason: 'ERR_JWT_EXPIRED' });
    } finally {
      vi.useRealTimers();
    }
    expect(keyLookups).toBe(2);
    // Another token is verified on its own, and a tampered copy of a cached one is not a hit.
    const other = await sign();
    await verify(other);
    expect(keyLookups).toBe(3);
    await expect(verify(`${other.slice(0, -2)}AA`)).rejects.toBeInstanceOf(Error);
  });

  it('stays within its bound', async () => {
    let keyLookups = 0;
    const verify = createAccessTokenVerifier({ keys: async () => (keyLookups++, es.publicKey), cacheMaxEntries: 2 });
    const [a, b, c] = await Promise.all([sign(), sign(), sign()]);
    for (const t of [a, b, c, c, b]) await verify(t);
    expect(keyLookups).toBe(3); // c and b were still cached
    await verify(a); // a was evicted first
    expect(keyLookups).toBe(4);
  });
});
