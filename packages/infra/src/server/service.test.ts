import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterOf } from '@switchyard/api-contracts';
import { pollUntil } from '../testing/poll.js';
import { startTestService, type TestService, type TestServiceOptions } from '../testing/test-service.js';
import { SECRET_INTERNAL_MESSAGE, type testContract } from './fixtures/test-contract.js';
import { handled, testRouter } from './fixtures/test-router.js';

const running: TestService[] = [];

async function start(options: Partial<TestServiceOptions> = {}) {
  const svc = await startTestService({ router: testRouter, ...options });
  running.push(svc);
  return svc;
}

/** A service with small limits, so that tests can pass them. */
async function startService(env: Record<string, string> = {}) {
  const svc = await start({ env: { MAX_BODY_BYTES: '2048', MAX_BATCH_SIZE: '3', ...env } });
  return { service: svc.service, address: svc, logs: svc.logs };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

function post(address: { url: string }, path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${address.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('errors sent to callers', () => {
  it('with NODE_ENV unset: no stack and no internal message, but the cause is logged', async () => {
    const { address, logs } = await startService();
    const responses = await Promise.all([
      post(address, 'boom', '{"json":{}}'),
      post(address, 'echo', JSON.stringify({ json: { text: 'x'.repeat(101) } })),
      post(address, 'nope', '{"json":{}}'),
      post(address, 'echo', '{not json'),
      fetch(`${address.url}/trpc/echo`),
    ]);
    expect(responses.map((r) => r.status)).toEqual([500, 400, 404, 400, 405]);
    const bodies = await Promise.all(responses.map((r) => r.text()));
    for (const body of bodies) {
      expect(body).not.toContain('"stack"');
      expect(body).not.toContain(SECRET_INTERNAL_MESSAGE);
      expect(body).not.toMatch(/\bat .*\.ts:\d+/);
    }
    const boom = JSON.parse(bodies[0]!) as { error: { json: { message: string; data: { appCode: string } } } };
    expect(boom.error.json.message).toBe('Internal server error');
    expect(boom.error.json.data.appCode).toBe('INTERNAL');
    expect(logs.text()).toContain(SECRET_INTERNAL_MESSAGE);
  });

  it('in development mode (set explicitly) the message and stack are sent', async () => {
    const { address } = await startService({ NODE_ENV: 'development' });
    const body = (await (await post(address, 'boom', '{"json":{}}')).json()) as {
      error: { json: { message: string; data: { stack?: string } } };
    };
    expect(body.error.json.message).toBe(SECRET_INTERNAL_MESSAGE);
    expect(body.error.json.data.stack).toContain('Error');
  });

  it('bad input gives 400 VALIDATION_FAILED with the field paths', async () => {
    const { address } = await startService();
    const res = await post(address, 'echo', JSON.stringify({ json: { text: 5, password: 7 } }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { json: { message: string; data: { appCode: string; issues: Array<{ path: string }> } } };
    };
    expect(body.error.json.data.appCode).toBe('VALIDATION_FAILED');
    expect(body.error.json.data.issues.map((i) => i.path).sort()).toEqual(['password', 'text']);
    expect(body.error.json.message).toMatch(/^Invalid input: .*text/);
  });
});

describe('limits', () => {
  it('a body over the limit gets 413 and runs no handler, with or without content-length', async () => {
    const { address } = await startService();
    const before = handled.echo;
    const big = JSON.stringify({ json: { text: 'x'.repeat(4000) } });
    const declared = await post(address, 'echo', big);
    expect(declared.status).toBe(413);
    const chunked = await fetch(`${address.url}/trpc/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const body = (await chunked.json()) as { error: { json: { data: { appCode: string } } } };
    expect(body.error.json.data.appCode).toBe('BODY_TOO_LARGE');
    expect(handled.echo).toBe(before);
  });

  it('a batch over the limit gets 400 and runs no handler; at the limit it runs', async () => {
    const { address } = await startService();
    const batch = (n: number) => {
      const body = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { json: { text: `t${i}` } }]));
      return post(address, `${Array(n).fill('echo').join(',')}?batch=1`, JSON.stringify(body));
    };
    const before = handled.echo;
    const over = await batch(4);
    expect(over.status).toBe(400);
    expect(JSON.stringify(await over.json())).toContain('BATCH_TOO_LARGE');
    expect(handled.echo).toBe(before);
    const atLimit = await batch(3);
    expect(atLimit.status).toBe(200);
    expect(handled.echo).toBe(before + 3);
  });

  it('headers over the limit get 431', async () => {
    const { address } = await startService({ MAX_HEADER_BYTES: '4096' });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${address.url}/health`, { headers: { 'x-big': 'y'.repeat(8000) } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
  });
});

describe('request ids and logs', () => {
  it('keeps a well-formed inbound id, echoes it and logs it; replaces a malformed one', async () => {
    const { address, logs } = await startService();
    const kept = await post(address, 'echo', '{"json":{"text":"hello"}}', { 'x-request-id': 'req-0123456789abcdef' });
    expect(kept.headers.get('x-request-id')).toBe('req-0123456789abcdef');
    const access = logs.lines().find((l) => l.requestId === 'req-0123456789abcdef' && l.msg === 'call');
    expect(access).toMatchObject({ procedure: 'echo', type: 'mutation', outcome: 'OK', service: 'test' });
    expect(typeof access?.durationMs).toBe('number');
    for (const bad of ['short', 'has spaces in it!', 'x'.repeat(129), '<script>alert(1)</script>']) {
      const res = await post(address, 'echo', '{"json":{"text":"hello"}}', { 'x-request-id': bad });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('redacts passwords from log lines', async () => {
    const { address, logs } = await startService();
    await post(address, 'echo', JSON.stringify({ json: { text: 'hi', password: 'hunter2-very-secret' } }));
    expect(logs.text()).not.toContain('hunter2-very-secret');
    expect(logs.lines().find((l) => l.msg === 'echo input')).toMatchObject({ input: { password: '[redacted]' } });
  });
});

describe('metrics, health and readiness', () => {
  it('serves /metrics only on the metrics port, with bounded procedure labels', async () => {
    const { address } = await startService();
    expect((await fetch(`${address.url}/metrics`)).status).toBe(404);
    await post(address, 'echo', '{"json":{"text":"hello"}}');
    for (let i = 0; i < 20; i++) await post(address, `random${i}`, '{"json":{}}');
    const text = await (await fetch(`http://127.0.0.1:${address.metricsPort}/metrics`)).text();
    expect(text).toContain('switchyard_rpc_requests_total{procedure="echo",type="mutation",code="OK",service="test"} 1');
    expect(text).toContain('procedure="__unknown__"');
    expect(text).not.toContain('random1');
    expect(text).toMatch(/switchyard_rpc_duration_seconds_bucket\{le="0\.005",service="test",procedure="echo",type="mutation"\}/);
    expect(text).toContain('switchyard_service_ready{service="test"} 1');
  });

  it('answers /health and /ready', async () => {
    const { address } = await startService();
    expect(await (await fetch(`${address.url}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${address.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', dependencies: {} });
  });

  it('reports a failing dependency in the readiness body without failing readiness', async () => {
    const { url } = await start({
      dependencies: { redis: () => Promise.reject(new Error('down')), postgres: () => Promise.resolve() },
    });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', dependencies: { redis: 'down', postgres: 'up' } });
  });

  it('answers /ready at once while a dependency hangs (the gateway health check times out at 500 ms), with breaker states', async () => {
    let hang = false;
    const { url } = await start({
      dependencies: { postgres: () => (hang ? new Promise(() => undefined) : Promise.resolve()) },
      breakers: () => ({ auth: 'open' }),
    });
    hang = true;
    const answers: Array<{ ms: number; status: number; body: Record<string, unknown> }> = [];
    // Asked until the background check gives up on the hanging dependency (its own 500 ms bound).
    await pollUntil(
      'the hanging dependency reported down',
      async () => {
        const t0 = performance.now();
        const ready = await fetch(`${url}/ready`);
        const body = (await ready.json()) as { dependencies: { postgres?: string } };
        answers.push({ ms: performance.now() - t0, status: ready.status, body });
        return body.dependencies.postgres === 'down';
      },
      { intervalMs: 100 },
    );
    expect(answers.length).toBeGreaterThan(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ status: 'ready', breakers: { auth: 'open' } });
      // A /ready that waited for the hanging check would take the check's 500 ms bound, past the
      // gateway's 500 ms health-check timeout; 400 ms leaves a loaded machine room.
      expect(answer.ms).toBeLessThan(400);
    }
  });

  it("keeps idle connections open longer than the gateway's upstream keep-alive, and waits 1 s longer for headers", async () => {
    // The gateway's upstream keep-alive, from the repository's Caddyfile.
    const caddyfile = readFileSync(new URL('../../../../Caddyfile', import.meta.url), 'utf8');
    const gatewayKeepAliveMs = Number(/^\s*keepalive (\d+)s$/m.exec(caddyfile)?.[1]) * 1000;
    expect(gatewayKeepAliveMs).toBe(60_000);
    // The http.Server that answers a request, as node's diagnostics channel reports it.
    let server: Server | undefined;
    const onRequest = (message: unknown) => void (server ??= (message as { server: Server }).server);
    subscribe('http.server.request.start', onRequest);
    try {
      const { url } = await start();
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('keep-alive')).toBe('timeout=65');
      expect(server?.address()).toMatchObject({ port: Number(new URL(url).port) });
      expect(server!.keepAliveTimeout).toBe(65_000);
      expect(server!.keepAliveTimeout).toBeGreaterThan(gatewayKeepAliveMs);
      expect(server!.headersTimeout).toBe(66_000);
    } finally {
      unsubscribe('http.server.request.start', onRequest);
    }
  });
});

describe('typed client', () => {
  it('calls through @trpc/client with superjson and batching', async () => {
    const { address } = await startService();
    const client = createTRPCClient<RouterOf<typeof testContract>>({
      links: [httpBatchLink({ url: `${address.url}/trpc`, transformer: superjson, maxItems: 3 })],
    });
    const [a, b] = await Promise.all([client.echo.mutate({ text: 'a' }), client.echo.mutate({ text: 'b' })]);
    expect(a).toEqual({ text: 'a', at: new Date(0) });
    expect(b.at).toBeInstanceOf(Date);
    const error = await client.boom.mutate({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<RouterOf<typeof testContract>>).data?.appCode).toBe('INTERNAL');
  });
});
