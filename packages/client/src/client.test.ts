import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authContract, notesContract, type Note } from '@switchyard/api-contracts';
import { createAccessTokenVerifier } from '@switchyard/infra/auth';
import { SwitchyardError } from '@switchyard/infra/errors';
import {
  pollUntil,
  startTestService,
  startTestTokenIssuer,
  type TestService,
  type TestTokenIssuer,
  gatewayErrorBody as caddyError,
  rateLimitedBody as rateLimited,
} from '@switchyard/infra/testing';
import { implement } from '@switchyard/infra/trpc';
import { createSwitchyardClient, type SessionTokens, type SwitchyardClientOptions } from './index.js';

// The client against real services (notes and auth, in this process, with real access tokens)
// behind a gateway on port 0 that routes /api/<service>/trpc/* as Caddy does, and that can answer
// a request itself (as Caddy's own errors) or lose an answer, one request at a time.

const USER = randomUUID();
const PASSWORD = 'correct horse 42';

/** What the services do and saw. */
const state = {
  /** `notes.list` waits until its signal fires (and records why). */
  hangList: false,
  listAborted: undefined as string | undefined,
  created: 0,
  refreshes: 0,
  /** The refresh token auth accepts now (rotated on every refresh). */
  refreshToken: 'rt-0',
};

let issuer: TestTokenIssuer;
let notes: TestService;
let auth: TestService;
let gateway: Server;
let baseUrl = '';

/** An answer the gateway gives instead of forwarding, or `lose`: forward, then cut the connection. */
type Fault = { status: number; headers?: Record<string, string>; body: string } | 'lose' | 'reset';
const faults: Record<'auth' | 'notes', Fault[]> = { auth: [], notes: [] };
/** Every request the gateway received: its service, procedure path and arrival time. */
const seen: Array<{ service: string; path: string; at: number }> = [];

const noteOf = (title: string, ownerId: string): Note => ({
  id: randomUUID(),
  ownerId,
  title,
  body: '',
  version: 1,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});
const missing = (): never => {
  throw new SwitchyardError('NOT_FOUND', 'not in this test');
};

const tokensFor = async (): Promise<{ accessToken: string; refreshToken: string; expiresIn: number }> => {
  state.refreshToken = `rt-${randomUUID()}`;
  return { accessToken: await issuer.sign(USER), refreshToken: state.refreshToken, expiresIn: 300 };
};

beforeAll(async () => {
  issuer = await startTestTokenIssuer();
  const verifyAccessToken = createAccessTokenVerifier({ jwksUrl: issuer.jwksUrl });
  const notesRouter = implement(notesContract, {
    create: ({ input, ctx }) => {
      state.created++;
      return noteOf(input.title, ctx.user!.id);
    },
    list: ({ signal }) => {
      if (!state.hangList) return { items: [], nextCursor: null };
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          state.listAborted = (signal.reason as Error).name;
          reject(signal.reason as Error);
        }),
      );
    },
    get: missing,
    update: missing,
    delete: missing,
  });
  const authRouter = implement(authContract, {
    login: async ({ input }) => {
      if (input.password !== PASSWORD) throw new SwitchyardError('UNAUTHENTICATED', 'Wrong email or password');
      return tokensFor();
    },
    refresh: async ({ input }) => {
      state.refreshes++;
      if (input.refreshToken !== state.refreshToken) throw new SwitchyardError('UNAUTHENTICATED', 'Sign in again');
      return tokensFor();
    },
    me: ({ ctx }) => ({ id: ctx.user!.id, email: 'ada@example.com', roles: [...ctx.user!.roles], createdAt: new Date(0) }),
    register: missing,
    logout: () => ({ ok: true as const }),
    logoutEverywhere: missing,
    disableUser: missing,
    getUser: missing,
  });
  notes = await startTestService({ name: 'notes', router: notesRouter, verifyAccessToken });
  auth = await startTestService({ name: 'auth', router: authRouter, verifyAccessToken });
  const upstreams = { auth: auth.url, notes: notes.url };

  gateway = createServer((req, res) => {
    const route = /^\/api\/(auth|notes)(\/trpc\/.*)$/.exec(req.url ?? '');
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const service = route[1] as 'auth' | 'notes';
    seen.push({ service, path: route[2]!.split('?')[0]!, at: Date.now() });
    const fault = faults[service].shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault && fault !== 'lose') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers }).end(fault.body);
      return;
    }
    const upstream = request(`${upstreams[service]}${route[2]}`, { method: req.method, headers: req.headers }, (reply) => {
      if (fault === 'lose') {
        // The service answered; the answer is lost on the way back.
        reply.resume();
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.statusCode!, reply.headers);
      reply.pipe(res);
    });
    req.pipe(upstream);
    // A caller that goes away takes its upstream request with it, as Caddy does.
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});

afterAll(async () => {
  gateway.closeAllConnections();
  await new Promise((resolve) => gateway.close(resolve));
  await Promise.all([notes?.close(), auth?.close()]);
  await issuer?.close();
});

beforeEach(() => {
  seen.length = 0;
  faults.auth.length = 0;
  faults.notes.length = 0;
  Object.assign(state, { hangList: false, listAborted: undefined, created: 0, refreshes: 0 });
});

/** A signed-in client (fresh tokens) with a short backoff; `options` override. */
async function signedIn(options: Partial<SwitchyardClientOptions> = {}) {
  return createSwitchyardClient({ baseUrl, tokens: await tokensFor(), backoff: { baseMs: 5, capMs: 20 }, ...options });
}

const dataOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as Record<string, unknown> | undefined) : undefined;
const paths = (service: string) => seen.filter((r) => r.service === service).map((r) => r.path);

describe('timeout', () => {
  it('ends a call at timeoutMs with DEADLINE_EXCEEDED, and the service stops the call', async () => {
    const client = await signedIn({ timeoutMs: 300 });
    state.hangList = true;
    const t0 = performance.now();
    const error = await client.notes.list.query({}).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(dataOf(error)).toMatchObject({ appCode: 'DEADLINE_EXCEEDED', httpStatus: 504, retryable: true });
    // At its 300 ms (a timer never fires early by more than a few ms), not at the service's 10 s.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2_500);
    // The handler's signal fires: because the caller went away (AbortError) or, since the client
    // sends its 300 ms on as the request's deadline, at that deadline (TimeoutError), whichever
    // the service sees first.
    await pollUntil('the handler aborted', () => state.listAborted);
    expect(['AbortError', 'TimeoutError']).toContain(state.listAborted);
  });

  it('bounds the retries too: a Retry-After past the time limit ends the call with its answer at once', async () => {
    const client = await signedIn({ timeoutMs: 1_500 });
    faults.notes.push({ status: 429, headers: { 'retry-after': '5' }, body: rateLimited });
    const t0 = performance.now();
    const error = await client.notes.list.query({}).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'RATE_LIMITED', httpStatus: 429 });
    expect(paths('notes')).toEqual(['/trpc/list']);
    // Ended by the answer, not by waiting out the 1.5 s limit.
    expect(performance.now() - t0).toBeLessThan(1_200);
  });
});

describe('retries', () => {
  it.each([
    ['a gateway 502', { status: 502, body: caddyError('UPSTREAM_UNAVAILABLE') }],
    ['a gateway 503', { status: 503, body: caddyError('UPSTREAM_UNAVAILABLE') }],
    ['a gateway 504', { status: 504, body: caddyError('DEADLINE_EXCEEDED') }],
    ['a 429', { status: 429, body: rateLimited }],
    ['a connection reset', 'reset'],
  ] as Array<[string, Fault]>)('retry a query after %s, which then succeeds', async (_name, fault) => {
    const client = await signedIn();
    faults.notes.push(fault);
    expect(await client.notes.list.query({})).toEqual({ items: [], nextCursor: null });
    expect(paths('notes')).toEqual(['/trpc/list', '/trpc/list']);
  });

  it('gives up on a query after maxAttempts', async () => {
    const client = await signedIn({ maxAttempts: 3 });
    for (let i = 0; i < 4; i++) faults.notes.push({ status: 502, body: caddyError('UPSTREAM_UNAVAILABLE') });
    const error = await client.notes.list.query({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<never>).meta).toMatchObject({ response: { status: 502 } });
    expect(paths('notes')).toHaveLength(3);
  });

  it('never retries a refusal (4xx other than 429)', async () => {
    const client = await signedIn();
    const error = await client.notes.get.query({ id: randomUUID() }).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'NOT_FOUND', httpStatus: 404 });
    expect(paths('notes')).toEqual(['/trpc/get']);
  });

  it('a mutation answered 502 by the gateway ends as OUTCOME_UNKNOWN and is not repeated', async () => {
    const client = await signedIn();
    faults.notes.push({ status: 502, body: caddyError('UPSTREAM_UNAVAILABLE') });
    const error = await client.notes.create.mutate({ title: 'maybe' }).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'OUTCOME_UNKNOWN', retryable: false });
    expect(paths('notes')).toEqual(['/trpc/create']);
  });

  it('a mutation whose answer was lost after the service ran it ends as OUTCOME_UNKNOWN, run once', async () => {
    const client = await signedIn();
    faults.notes.push('lose');
    const error = await client.notes.create.mutate({ title: 'ran' }).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'OUTCOME_UNKNOWN', retryable: false });
    expect(state.created).toBe(1);
    expect(paths('notes')).toEqual(['/trpc/create']);
  });

  it("a mutation refused by the service is the service's error, not repeated", async () => {
    const client = await signedIn();
    faults.notes.push({ status: 429, headers: { 'retry-after': '1' }, body: rateLimited });
    const error = await client.notes.create.mutate({ title: 'limited' }).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'RATE_LIMITED', httpStatus: 429 });
    expect(state.created).toBe(0);
    expect(paths('notes')).toEqual(['/trpc/create']);
  });
});

describe('Retry-After', () => {
  it('in delta-seconds: the retry waits for it', async () => {
    const client = await signedIn();
    faults.notes.push({ status: 429, headers: { 'retry-after': '1' }, body: rateLimited });
    expect(await client.notes.list.query({})).toEqual({ items: [], nextCursor: null });
    expect(paths('notes')).toHaveLength(2);
    // Not before the second it asked for (the backoff alone is at most 20 ms here).
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 5);
  });

  it('as an HTTP date: the retry waits until then', async () => {
    const client = await signedIn();
    const retryAt = new Date(Date.now() + 2_000).toUTCString();
    faults.notes.push({ status: 503, headers: { 'retry-after': retryAt }, body: caddyError('UPSTREAM_UNAVAILABLE') });
    expect(await client.notes.list.query({})).toEqual({ items: [], nextCursor: null });
    expect(paths('notes')).toHaveLength(2);
    // The date has whole seconds: the retry comes at it, 1 to 2 s after the answer.
    expect(seen[1]!.at).toBeGreaterThanOrEqual(Date.parse(retryAt) - 5);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(900);
  });
});

describe('access token refresh', () => {
  it('refreshes an access token the services refuse once, for every call waiting on it, then retries them', async () => {
    const changes: Array<SessionTokens | undefined> = [];
    const refreshToken = (await tokensFor()).refreshToken;
    // An access token past its maximum age: every service refuses it with 401.
    const stale = await issuer.sign(USER, { iat: Math.floor(Date.now() / 1000) - 400 });
    const client = createSwitchyardClient({
      baseUrl,
      tokens: { accessToken: stale, refreshToken },
      onTokens: (tokens) => changes.push(tokens),
    });
    // Two services, two HTTP requests, both refused.
    const [page, me] = await Promise.all([client.notes.list.query({}), client.auth.me.query({})]);
    expect(page).toEqual({ items: [], nextCursor: null });
    expect(me).toMatchObject({ id: USER, email: 'ada@example.com' });
    expect(state.refreshes).toBe(1);
    expect(paths('notes')).toEqual(['/trpc/list', '/trpc/list']);
    expect(paths('auth').sort()).toEqual(['/trpc/me', '/trpc/me', '/trpc/refresh']);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.refreshToken).toBe(state.refreshToken);
    expect(changes[0]!.accessToken).not.toBe(stale);
    expect(client.signedIn).toBe(true);
  });

  it('does not refresh for wrong credentials on login', async () => {
    const client = await signedIn();
    const error = await client.auth.login
      .mutate({ email: 'ada@example.com', password: 'wrong password 1' })
      .catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'UNAUTHENTICATED', httpStatus: 401 });
    expect(state.refreshes).toBe(0);
    expect(client.signedIn).toBe(true);
  });

  it('signs out when the refresh is refused, and the call fails with UNAUTHENTICATED', async () => {
    const changes: Array<SessionTokens | undefined> = [];
    const stale = await issuer.sign(USER, { iat: Math.floor(Date.now() / 1000) - 400 });
    const client = createSwitchyardClient({
      baseUrl,
      tokens: { accessToken: stale, refreshToken: 'rt-revoked' },
      onTokens: (tokens) => changes.push(tokens),
    });
    const error = await client.notes.list.query({}).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ appCode: 'UNAUTHENTICATED', httpStatus: 401 });
    expect(state.refreshes).toBe(1);
    expect(changes).toEqual([undefined]);
    expect(client.signedIn).toBe(false);
  });

  it('signs in, and its calls carry the new access token', async () => {
    const client = createSwitchyardClient({ baseUrl });
    expect(dataOf(await client.auth.me.query({}).catch((e: unknown) => e))).toMatchObject({ httpStatus: 401 });
    await client.signIn('ada@example.com', PASSWORD);
    expect(client.signedIn).toBe(true);
    expect(await client.auth.me.query({})).toMatchObject({ id: USER });
  });
});
