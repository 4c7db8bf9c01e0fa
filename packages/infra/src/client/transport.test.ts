import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyAttemptError } from './call-errors.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';
import type { CancelListener } from '../policies/call-attempt.js';
import { pollUntil } from '../testing/poll.js';
import { HttpTransport } from './transport.js';

// The transport against a real service, through a recording HTTP proxy that counts requests.
let downstream: Downstream;
let proxy: Server;
let proxyUrl = '';
const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; rawHeaders: string[] }> = [];

beforeAll(async () => {
  downstream = await startDownstream();
  proxy = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders });
    if (req.headers['x-test-answer'] === 'plain-502') {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway');
      return;
    }
    const upstream = request(`${downstream.address.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => proxy.close(resolve));
  await downstream.service.shutdown('done');
});
beforeEach(() => {
  seen.length = 0;
});

const ctxOf = (requestId: string, budgetMs = 5_000) => ({
  requestId,
  deadlineAt: performance.now() + budgetMs,
  otel: ROOT_CONTEXT,
});

describe('the mesh client transport', () => {
  it('sends the calls of one context made in the same turn as one request per type, in tRPC batch form', async () => {
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: proxyUrl });
    const calls = client.with(ctxOf('transport-test-0001'));
    const [a, b, refused, r1, r2] = await Promise.allSettled([
      calls.work.query({ n: 1 }),
      calls.work.query({ n: 2 }),
      calls.refuse.query({ status: '404' }),
      calls.record.mutate({ id: 'x' }),
      calls.record.mutate({ id: 'y' }),
    ]);
    expect(a).toEqual({ status: 'fulfilled', value: { ok: true, n: 1 } });
    expect(b).toEqual({ status: 'fulfilled', value: { ok: true, n: 2 } });
    expect(refused.status).toBe('rejected');
    const error = (refused as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<never>).data).toMatchObject({ appCode: 'NOT_FOUND', httpStatus: 404 });
    expect([r1, r2].map((r) => (r as PromiseFulfilledResult<{ count: number }>).value.count).sort()).toEqual([1, 2]);
    expect(seen.map((r) => `${r.method} ${r.url.split('&')[0]}`).sort()).toEqual([
      'GET /trpc/work,work,refuse?batch=1',
      'POST /trpc/record,record?batch=1',
    ]);
    // Each call's request id travels in its entry of x-switchyard-calls (no per-call headers).
    const entries = (r: (typeof seen)[number]) => JSON.parse(r.headers['x-switchyard-calls'] as string) as Array<{ r?: string }>;
    expect(seen.every((r) => entries(r).every((e) => e.r === 'transport-test-0001'))).toBe(true);
    expect(seen.every((r) => r.headers['x-request-id'] === undefined && r.headers['x-deadline-ms'] === undefined)).toBe(true);
    expect(seen.find((r) => r.method === 'POST')!.headers['content-type']).toBe('application/json');
  });

  it('batches calls made for different requests in one turn, each keeping its request id, deadline and key', async () => {
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: proxyUrl, maxBatchSize: 3 });
    const one = client.with(ctxOf('transport-test-one1', 5_000));
    const two = client.with(ctxOf('transport-test-two2', 1_000));
    const results = await Promise.all([1, 2, 3, 4].map((n) => (n % 2 ? one : two).origin.query({ n })));
    expect(results.map((r) => r.requestId)).toEqual([
      'transport-test-one1',
      'transport-test-two2',
      'transport-test-one1',
      'transport-test-two2',
    ]);
    for (const r of results) {
      const [low, high] = r.requestId === 'transport-test-one1' ? [4_000, 5_000] : [0, 1_000];
      expect(r.budgetMs, `call ${r.n}`).toBeGreaterThan(low);
      expect(r.budgetMs, `call ${r.n}`).toBeLessThanOrEqual(high);
    }
    // One request of three calls (split at maxBatchSize), then the last call alone.
    expect(seen.map((r) => r.url.split('?')[0])).toEqual(['/trpc/origin,origin,origin', '/trpc/origin']);
    const batched = JSON.parse(seen[0]!.headers['x-switchyard-calls'] as string) as Array<{ r: string; d: number }>;
    expect(batched.map((e) => e.r)).toEqual(['transport-test-one1', 'transport-test-two2', 'transport-test-one1']);
    // Each entry carries its own call's budget; nothing per call at the request level.
    expect(batched.map((e) => e.d > 4_000 && e.d <= 5_000)).toEqual([true, false, true]);
    expect(batched[1]!.d).toBeLessThanOrEqual(1_000);
    expect(seen[0]!.headers['x-deadline-ms']).toBeUndefined();
    expect(seen[0]!.headers['x-request-id']).toBeUndefined();
    // A call alone sends its context the same way: one entry.
    const alone = JSON.parse(seen[1]!.headers['x-switchyard-calls'] as string) as Array<{ r: string; d: number }>;
    expect(alone).toHaveLength(1);
    expect(alone[0]!.r).toBe('transport-test-two2');
    expect(alone[0]!.d).toBeLessThanOrEqual(1_000);
    expect(seen[1]!.headers['x-request-id']).toBeUndefined();
    // The callee's access lines carry each call's own request id.
    const lines = downstream.logs.lines().filter((l) => l.msg === 'call' && l.procedure === 'origin');
    expect(
      lines
        .slice(-4)
        .map((l) => l.requestId)
        .sort(),
    ).toEqual(['transport-test-one1', 'transport-test-one1', 'transport-test-two2', 'transport-test-two2']);

    // Idempotent mutations of two requests in one batch: each its own request's key.
    seen.length = 0;
    const [a, b] = await Promise.all([one.stamp.mutate({ n: 1 }), two.stamp.mutate({ n: 2 })]);
    expect(seen.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual(['POST /trpc/stamp,stamp']);
    expect(a.key).toMatch(/^transport-test-one1\./);
    expect(b.key).toMatch(/^transport-test-two2\./);
    // The same request's key again for its next idempotent mutation (a retry carries it too).
    expect((await one.stamp.mutate({ n: 3 })).key).toBe(a.key);
  });

  it('sends a budget that every call of a batch of 4 or more shares once, as x-deadline-ms', async () => {
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: proxyUrl,
      policies: { timeoutMs: 3_000 },
    });
    // Deadlines far off: each call is bound by the 3 s timeout, so all have the same budget.
    const ctxs = [1, 2, 3, 4].map((n) => ctxOf(`transport-shared-${n}000`, 60_000));
    const results = await Promise.all(ctxs.map((ctx, i) => client.with(ctx).origin.query({ n: i })));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-deadline-ms']).toBe('3000');
    const entries = JSON.parse(seen[0]!.headers['x-switchyard-calls'] as string) as Array<Record<string, unknown>>;
    expect(entries).toEqual(ctxs.map((ctx) => ({ r: ctx.requestId })));
    // The callee gives each call that budget, with its own request id.
    expect(results.map((r) => r.requestId)).toEqual(ctxs.map((ctx) => ctx.requestId));
    for (const r of results) {
      expect(r.budgetMs, `call ${r.n}`).toBeGreaterThan(2_000);
      expect(r.budgetMs, `call ${r.n}`).toBeLessThanOrEqual(3_000);
    }

    // Three calls, or budgets that differ: each entry its own `d`, no x-deadline-ms.
    seen.length = 0;
    await Promise.all(ctxs.slice(0, 3).map((ctx, i) => client.with(ctx).origin.query({ n: i })));
    await Promise.all(
      ctxs.map((ctx, i) => client.with({ ...ctx, deadlineAt: performance.now() + 1_000 * (i + 1) }).origin.query({ n: i })),
    );
    expect(seen).toHaveLength(2);
    for (const request of seen) {
      expect(request.headers['x-deadline-ms']).toBeUndefined();
      const sent = JSON.parse(request.headers['x-switchyard-calls'] as string) as Array<{ d?: number }>;
      expect(sent.every((e) => typeof e.d === 'number' && e.d > 0)).toBe(true);
    }
  });

  it('a context with a malformed request id does not make the batch it shares refused', async () => {
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: proxyUrl });
    const [bad, good] = await Promise.all([
      client.with(ctxOf('not a valid id!')).origin.query({ n: 1 }),
      client.with(ctxOf('transport-test-good')).origin.query({ n: 2 }),
    ]);
    expect(seen.map((r) => r.url.split('?')[0])).toEqual(['/trpc/origin,origin']);
    // As a malformed x-request-id header is: replaced by the callee, never echoed.
    expect(bad.requestId).not.toBe('not a valid id!');
    expect(bad.requestId).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(good.requestId).toBe('transport-test-good');
  });

  it('splits a batch when its calls would make the headers too long', async () => {
    const transport = new HttpTransport<number>({
      url: downstream.address.url,
      maxBatchSize: 20,
      maxUrlLength: 400,
      headerBytes: (call) => call.extra,
    });
    const sizes: number[] = [];
    const group = {};
    const send = (n: number, bytes: number) =>
      transport.send(group, { path: 'stamp', type: 'mutation', input: { n }, extra: bytes }, (calls) => {
        sizes.push(calls.length);
        return {};
      });
    await Promise.all([send(1, 150), send(2, 150), send(3, 150), send(4, 10), send(5, 10)]);
    // The base URL and 2 x 150 fit in 400; the third call starts the next request.
    expect(sizes).toEqual([2, 3]);
    transport.close();
  });

  it('errors carry what the policies classify: the server status, a proxy page, a refused connection', async () => {
    const transport = new HttpTransport({ url: proxyUrl, maxBatchSize: 20 });
    const send = (headers: Record<string, string>, path = 'refuse', input: unknown = { status: '429' }) =>
      transport.send({}, { path, type: 'query', input, extra: undefined }, () => ({ ...headers })).catch((e: unknown) => e);
    const limited = await send({});
    expect(classifyAttemptError(limited)).toMatchObject({ kind: 'answered', status: 429 });
    const proxyPage = await send({ 'x-test-answer': 'plain-502' });
    expect(proxyPage).toBeInstanceOf(TRPCClientError);
    expect(classifyAttemptError(proxyPage)).toEqual({ kind: 'maybe-sent' });
    const closed = await new HttpTransport({ url: 'http://127.0.0.1:1', maxBatchSize: 20 })
      .send({}, { path: 'work', type: 'query', input: {}, extra: undefined }, () => ({}))
      .catch((e: unknown) => e);
    expect(classifyAttemptError(closed)).toEqual({ kind: 'not-sent' });
    transport.close();
  });

  it('a header http.request refuses fails its calls, not the caller; a procedure name with a space is escaped', async () => {
    const transport = new HttpTransport({ url: downstream.address.url, maxBatchSize: 20 });
    const failed = await transport
      .send({}, { path: 'work', type: 'query', input: {}, extra: undefined }, () => ({ 'x-note': 'line\nbreak' }))
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(TRPCClientError);
    expect((failed as { cause?: unknown }).cause).toMatchObject({ code: 'ERR_INVALID_CHAR' });
    // Sent escaped (as fetch would), the service answers that it has no such procedure.
    const unknown = await transport
      .send({}, { path: 'no such', type: 'query', input: {}, extra: undefined }, () => ({}))
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(TRPCClientError);
    expect((unknown as TRPCClientError<AnyTRPCRouter>).data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
    // The transport still works.
    const ok = await transport.send({}, { path: 'work', type: 'query', input: {}, extra: undefined }, () => ({}));
    expect(ok).toEqual({ ok: true });
    transport.close();
  });

  it('sends Host with the port, credentials in the URL as Basic auth, and a call’s own Host or Authorization instead', async () => {
    const port = new URL(proxyUrl).port;
    const send = (url: string, headers: Record<string, string>, type: 'query' | 'mutation' = 'query') => {
      const transport = new HttpTransport({ url, maxBatchSize: 20 });
      return transport
        .send(
          {},
          { path: type === 'query' ? 'work' : 'record', type, input: type === 'query' ? {} : { id: 'h' }, extra: undefined },
          () => ({
            ...headers,
          }),
        )
        .catch((e: unknown) => e) // what was sent is what counts here
        .finally(() => transport.close());
    };
    await send(proxyUrl, { 'x-request-id': 'transport-host-1' });
    await send(`http://svc:p%40ss@127.0.0.1:${port}`, {}, 'mutation');
    await send(`http://svc:secret@127.0.0.1:${port}`, { Authorization: 'Bearer user-token', Host: 'notes.internal' });
    expect(seen.map((r) => [r.headers.host, r.headers.authorization, r.headers['x-request-id']])).toEqual([
      [`127.0.0.1:${port}`, undefined, 'transport-host-1'],
      [`127.0.0.1:${port}`, `Basic ${Buffer.from('svc:p@ss').toString('base64')}`, undefined],
      ['notes.internal', 'Bearer user-token', undefined],
    ]);
    // Each sent once, keep-alive asked for, a mutation's body announced.
    const sent = (r: (typeof seen)[number], name: string) =>
      r.rawHeaders.filter((value, i) => i % 2 === 0 && value.toLowerCase() === name).length;
    expect(seen.map((r) => [sent(r, 'host'), sent(r, 'authorization'), r.headers.connection])).toEqual([
      [1, 0, 'keep-alive'],
      [1, 1, 'keep-alive'],
      [1, 1, 'keep-alive'],
    ]);
    expect(seen[1]!.headers['content-length']).toBe(String(Buffer.byteLength('{"0":{"json":{"id":"h"}}}')));
  });

  it('a cancelled call rejects at once with its reason, and the request ends when no call in it waits', async () => {
    const transport = new HttpTransport({ url: downstream.address.url, maxBatchSize: 20 });
    let listener: CancelListener | undefined;
    const before = downstream.state.aborts.length;
    const started = downstream.state.calls.waitForAbort ?? 0;
    const pending = transport.send(
      {},
      { path: 'waitForAbort', type: 'query', input: {}, extra: undefined },
      () => ({ 'x-deadline-ms': '5000' }),
      { onCancel: (l) => (listener = l) },
    );
    await pollUntil('the handler running', () => (downstream.state.calls.waitForAbort ?? 0) > started);
    const reason = new Error('gave up');
    if (typeof listener === 'function') listener(reason);
    else listener!.cancelled(reason);
    await expect(pending).rejects.toThrow('gave up');
    // The service sees its caller go away: the handler's signal fires.
    await pollUntil('the handler aborted', () => downstream.state.aborts.length > before);
    expect(downstream.state.aborts.slice(before).map((a) => a.reason)).toEqual(['AbortError']);
    transport.close();
  });
});
