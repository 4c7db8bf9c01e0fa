import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request, type IncomingMessage } from 'node:http';
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type RouterOf } from '@switchyard/api-contracts';
import { TokenRejectedError } from '../auth/access-token.js';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { pollUntil } from '../testing/poll.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';
import { remainingMs } from '../policies/deadline.js';
import { createFastTrpc } from './fast-adapter.js';

// Differential tests: one corpus of requests, sent to the same service behind the fast path and
// behind tRPC's stock node-http adapter, must get the same status, body and headers.

const contract = defineContract({
  greet: {
    type: 'query',
    input: z.strictObject({ name: z.string().min(1).max(20) }),
    output: z.object({ text: z.string(), at: z.date() }),
    access: 'public',
  },
  missing: { type: 'query', input: z.strictObject({ id: z.string() }), output: z.object({}), access: 'public' },
  crash: { type: 'query', input: z.strictObject({}), output: z.object({}), access: 'public' },
  mine: { type: 'query', input: z.strictObject({}), output: z.object({ id: z.string() }), access: 'user' },
  save: {
    type: 'mutation',
    input: z.strictObject({ at: z.date(), tags: z.array(z.string()).max(3).default([]), note: z.string().optional() }),
    output: z.object({ at: z.date(), tags: z.array(z.string()), note: z.string().nullable() }),
    access: 'public',
  },
  cookie: { type: 'mutation', input: z.strictObject({}), output: z.object({ ok: z.boolean() }), access: 'public' },
  shape: { type: 'query', input: z.strictObject({ kind: z.string() }), output: z.unknown(), access: 'public' },
  whoami: {
    type: 'query',
    input: z.strictObject({}),
    output: z.object({ requestId: z.string(), key: z.string().nullable(), budgetS: z.number() }),
    access: 'public',
  },
});

// Outputs that superjson writes as plain JSON and outputs it annotates: the fast path writes the
// first kind itself and must give superjson's bytes for both.
const shared = { n: 1 };
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [true, null] });
const SHAPES: Record<string, () => unknown> = {
  plain: () => ({
    s: 'héllo "q" \u2028',
    n: -1.5e-7,
    b: false,
    z: null,
    list: [1, 'two', [3], { four: 4 }],
    deep: { a: { b: { c: {} } } },
  }),
  // The fast path writes these itself: key order, escapes and numbers as JSON.stringify has them.
  'key order': () => ({ b: 1, 2: 'two', a: [], 1: {}, '': '', 'x y': 0 }),
  escapes: () => ({
    quote: '"\\/',
    control: '\u0000\u0001\b\t\n\f\r\u001f\u007f',
    surrogates: ['\ud800', 'x\udfff', '\ud83d\ude00', '\u00e9t\u00e9'],
    'key "quoted"\n': 'k',
  }),
  numbers: () => [0, 1, -1, 0.1, 1e21, 1.5e-7, 5e-324, 2 ** 53, -123.456, Number.MAX_VALUE],
  'non-enumerable and symbol keys': () =>
    Object.defineProperties({ shown: 1, [Symbol('s')]: 2 } as Record<string, unknown>, {
      hidden: { value: 3, enumerable: false },
    }),
  'enumerable getter': () => Object.defineProperty({ a: 1 }, 'got', { get: () => 'from getter', enumerable: true }),
  'top-level string': () => 'just text',
  'top-level null': () => null,
  'top-level array': () => [1, 2, 3],
  'null prototype': () => nullProto,
  'undefined field': () => ({ a: undefined, b: 1 }),
  'top-level undefined': () => undefined,
  'repeated reference': () => ({ first: shared, second: shared }),
  // Past the first 16 objects the check keeps them in a Set: a plain list, and a repeat there.
  'many objects': () => Array.from({ length: 40 }, (_, i) => ({ i, tags: [`t${i}`] })),
  'repeated reference after 20 objects': () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ i }));
    return [...items, items[18]];
  },
  'negative zero': () => ({ n: -0 }),
  NaN: () => ({ n: Number.NaN }),
  Infinity: () => ({ n: Number.POSITIVE_INFINITY }),
  Date: () => ({ at: new Date(7) }),
  Map: () => ({ m: new Map([['k', 1]]) }),
  Set: () => [new Set([1])],
  BigInt: () => ({ big: 10n }),
  'sparse array': () => [1, , 3], // eslint-disable-line no-sparse-arrays
  'class instance': () =>
    new (class Point {
      x = 1;
    })(),
  'constructor key': () => JSON.parse('{"constructor":1}') as unknown,
};

const router = implement(contract, {
  greet: ({ input }) => ({ text: `hello ${input.name}`, at: new Date(Date.UTC(2026, 0, 1)) }),
  missing: ({ input }) => {
    throw new SwitchyardError('NOT_FOUND', `No thing ${input.id}`);
  },
  crash: () => {
    throw new Error('connect ECONNREFUSED 10.9.8.7:5432');
  },
  mine: ({ ctx }) => ({ id: ctx.user!.id }),
  save: ({ input }) => ({ at: input.at, tags: input.tags, note: input.note ?? null }),
  shape: ({ input }) => {
    const make = SHAPES[input.kind];
    if (!make) throw new SwitchyardError('NOT_FOUND', `No shape ${input.kind}`);
    return make();
  },
  // Whole seconds left: the same in both services for a budget that is not near a whole second.
  whoami: ({ ctx }) => ({
    requestId: ctx.requestId,
    key: ctx.idempotencyKey ?? null,
    budgetS: Math.ceil(remainingMs(ctx.deadlineAt) / 1000),
  }),
  cookie: ({ ctx }) => {
    ctx.setHeader('set-cookie', 'a=1; Path=/; HttpOnly');
    ctx.setHeader('set-cookie', 'b=2; Path=/');
    ctx.setHeader('retry-after', '3');
    return { ok: true };
  },
});

const env = { MAX_BATCH_SIZE: '5', MAX_BODY_BYTES: '2048' };
const verifyAccessToken = (token: string) =>
  token === 'good'
    ? Promise.resolve({ user: { id: 'u-1', roles: [] }, tokenId: 't', sessionId: undefined, issuedAt: 0, expiresAt: 0 })
    : Promise.reject(new TokenRejectedError('bad signature'));

const services: TestService[] = [];
const urls = { fast: '', stock: '' };
beforeAll(async () => {
  for (const adapter of ['fast', 'stock'] as const) {
    const service = await startTestService({ name: 'diff', router, env, verifyAccessToken, adapter });
    services.push(service);
    urls[adapter] = service.url;
  }
});
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});

interface Probe {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Whether the fast path takes it (the rest goes to the stock adapter in both services). */
  fast: boolean;
  /** Sent without the x-request-id header the others carry. */
  noRequestId?: boolean;
}

const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
const json = { 'content-type': 'application/json' };
const at = superjson.serialize({ at: new Date(Date.UTC(2020, 1, 2)), tags: ['x'] });
const corpus: Probe[] = [
  { name: 'query', path: `/trpc/greet?input=${q({ json: { name: 'Ada' } })}`, fast: true },
  { name: 'query, JSON content-type', path: `/trpc/greet?input=${q({ json: { name: 'Ada' } })}`, headers: json, fast: true },
  { name: 'query, invalid input', path: `/trpc/greet?input=${q({ json: { name: 42 } })}`, fast: true },
  { name: 'query, unknown field (strict)', path: `/trpc/greet?input=${q({ json: { name: 'A', x: 1 } })}`, fast: true },
  { name: 'query, no input', path: '/trpc/greet', fast: true },
  { name: 'query, empty input', path: '/trpc/greet?input=', fast: true },
  { name: 'query, malformed JSON input', path: '/trpc/greet?input=%7Bbad', fast: true },
  // The query as URLSearchParams reads it (the stock adapter's reading).
  {
    name: 'query, + for spaces in the input',
    path: `/trpc/greet?input=${q({ json: { name: 'Ada Lovelace' } }).replaceAll('%20', '+')}`,
    fast: true,
  },
  { name: 'query, an encoded name', path: `/trpc/greet?inp%75t=${q({ json: { name: 'Ada' } })}`, fast: true },
  {
    name: 'query, input given twice (the first counts)',
    path: `/trpc/greet?input=${q({ json: { name: 'first' } })}&input=${q({ json: { name: 'second' } })}`,
    fast: true,
  },
  { name: 'query, a malformed escape', path: '/trpc/greet?input=%7B%22json%22%3A%7B%22name%22%3A%22A%ZZ%22%7D%7D', fast: true },
  {
    name: 'query, lower-case hex escapes',
    path: '/trpc/greet?input=%7b%22json%22%3a%7b%22name%22%3a%22Ada%22%7d%7d',
    fast: true,
  },
  { name: 'query, an escaped non-ASCII name', path: `/trpc/greet?input=${q({ json: { name: 'Zoë 名' } })}`, fast: true },
  { name: 'query, an escape cut short at the end', path: '/trpc/greet?input=%7B%22json%22%3A%7B%7D%7', fast: true },
  { name: 'query, an escape cut short before the next parameter', path: '/trpc/greet?input=%7B%2&batch=', fast: true },
  { name: 'query, invalid UTF-8', path: '/trpc/greet?input=%7B%22json%22%3A%7B%22name%22%3A%22A%C3%28%22%7D%7D', fast: true },
  {
    name: 'query, empty segments and a name without a value',
    path: `/trpc/greet,greet?&&batch&input=${q({ 0: { json: { name: 'A' } } })}`,
    fast: false,
  },
  {
    name: 'query, batch=1 after the input and a parameter nobody reads',
    path: `/trpc/greet,greet?input=${q({ 0: { json: { name: 'A' } }, 1: { json: { name: 'B' } } })}&x=%E2%82%AC&batch=1`,
    fast: true,
  },
  { name: 'query, handler NOT_FOUND', path: `/trpc/missing?input=${q({ json: { id: 'n1' } })}`, fast: true },
  { name: 'query, internal error', path: `/trpc/crash?input=${q({ json: {} })}`, fast: true },
  {
    name: 'batch of queries',
    path: `/trpc/greet,greet?batch=1&input=${q({ 0: { json: { name: 'A' } }, 1: { json: { name: 'B' } } })}`,
    fast: true,
  },
  {
    name: 'batch mixing success and errors',
    path: `/trpc/greet,missing,greet,crash?batch=1&input=${q({ 0: { json: { name: 'A' } }, 1: { json: { id: 'x' } }, 2: { json: { name: 1 } }, 3: { json: {} } })}`,
    fast: true,
  },
  { name: 'batch, input not an object', path: `/trpc/greet,greet?batch=1&input=${q([1, 2])}`, fast: true },
  { name: 'batch, malformed input', path: '/trpc/greet,greet?batch=1&input=%5B%7B', fast: true },
  {
    name: 'batch, a call without input',
    path: `/trpc/greet,greet?batch=1&input=${q({ 0: { json: { name: 'A' } } })}`,
    fast: true,
  },
  { name: 'batch of one', path: `/trpc/greet?batch=1&input=${q({ 0: { json: { name: 'A' } } })}`, fast: true },
  { name: 'batch over the limit', path: `/trpc/greet,greet,greet,greet,greet,greet?batch=1&input=${q({})}`, fast: false },
  { name: 'batch=true is not a batch', path: `/trpc/greet,greet?batch=true`, fast: false },
  { name: 'malformed batch paths', path: `/trpc/greet,,greet?batch=1&input=${q({})}`, fast: false },
  { name: 'unknown procedure', path: '/trpc/nope', fast: false },
  { name: 'unknown procedure in a batch', path: `/trpc/greet,nope?batch=1&input=${q({})}`, fast: false },
  { name: 'percent-encoded path', path: '/trpc/gr%65et', fast: false },
  { name: 'GET to a mutation', path: '/trpc/save', fast: false },
  { name: 'POST to a query', method: 'POST', path: '/trpc/greet', headers: json, body: '{}', fast: false },
  { name: 'HEAD', method: 'HEAD', path: '/trpc/greet', fast: false },
  {
    name: 'streaming accept',
    path: `/trpc/greet?batch=1&input=${q({ 0: { json: { name: 'A' } } })}`,
    headers: { 'trpc-accept': 'application/jsonl' },
    fast: false,
  },
  {
    name: 'connectionParams',
    path: `/trpc/greet?connectionParams=${q({ a: 1 })}&input=${q({ json: { name: 'A' } })}`,
    fast: false,
  },
  {
    name: 'mutation with transformer payload',
    method: 'POST',
    path: '/trpc/save',
    headers: json,
    body: JSON.stringify(at),
    fast: true,
  },
  {
    name: 'mutation, superjson undefined and Date',
    method: 'POST',
    path: '/trpc/save',
    headers: { 'content-type': 'Application/JSON; charset=utf-8' },
    body: JSON.stringify(superjson.serialize({ at: new Date(0), note: undefined })),
    fast: true,
  },
  {
    name: 'mutation, Date expected, string given',
    method: 'POST',
    path: '/trpc/save',
    headers: json,
    body: '{"json":{"at":"2020-01-01"}}',
    fast: true,
  },
  { name: 'mutation, malformed JSON body', method: 'POST', path: '/trpc/save', headers: json, body: '{"json":', fast: true },
  { name: 'mutation, empty body', method: 'POST', path: '/trpc/save', headers: json, body: '', fast: true },
  {
    name: 'batch of mutations',
    method: 'POST',
    path: '/trpc/save,save,cookie?batch=1',
    headers: json,
    body: JSON.stringify({ 0: at, 1: { json: { at: 'no' } }, 2: { json: {} } }),
    fast: true,
  },
  {
    name: 'mutation setting cookies and headers',
    method: 'POST',
    path: '/trpc/cookie',
    headers: json,
    body: '{"json":{}}',
    fast: true,
  },
  {
    name: 'mutation, text/plain',
    method: 'POST',
    path: '/trpc/save',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
    fast: false,
  },
  { name: 'mutation, no content-type', method: 'POST', path: '/trpc/save', body: '{}', fast: false },
  {
    name: 'mutation, form data',
    method: 'POST',
    path: '/trpc/save',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x--',
    fast: false,
  },
  {
    name: 'mutation over the body limit',
    method: 'POST',
    path: '/trpc/save',
    headers: json,
    body: JSON.stringify({ json: { at: 'x'.repeat(3000) } }),
    fast: false,
  },
  { name: 'user procedure, no token', path: `/trpc/mine?input=${q({ json: {} })}`, fast: true },
  {
    name: 'user procedure, bad token',
    path: `/trpc/mine?input=${q({ json: {} })}`,
    headers: { authorization: 'Bearer bad' },
    fast: true,
  },
  {
    name: 'batch with a bad token (context fails for every call)',
    path: `/trpc/mine,greet?batch=1&input=${q({ 0: { json: {} }, 1: { json: { name: 'A' } } })}`,
    headers: { authorization: 'Bearer bad' },
    fast: true,
  },
  {
    name: 'user procedure, good token',
    path: `/trpc/mine?input=${q({ json: {} })}`,
    headers: { authorization: 'Bearer good' },
    fast: true,
  },
  {
    name: 'malformed Idempotency-Key',
    method: 'POST',
    path: '/trpc/cookie',
    headers: { ...json, 'idempotency-key': 'x' },
    body: '{"json":{}}',
    fast: true,
  },
  ...Object.keys(SHAPES).map((kind) => ({
    name: `output: ${kind}`,
    path: `/trpc/shape?input=${q({ json: { kind } })}`,
    fast: true,
  })),
  {
    name: 'output: a batch of plain and annotated results',
    path: `/trpc/shape,shape,shape?batch=1&input=${q({ 0: { json: { kind: 'plain' } }, 1: { json: { kind: 'Date' } }, 2: { json: { kind: 'repeated reference' } } })}`,
    fast: true,
  },
  {
    name: 'output: a batch of plain results written by the fast path',
    path: `/trpc/shape,shape,shape,shape,shape?batch=1&input=${q({ 0: { json: { kind: 'escapes' } }, 1: { json: { kind: 'numbers' } }, 2: { json: { kind: 'top-level null' } }, 3: { json: { kind: 'key order' } }, 4: { json: { kind: 'top-level string' } } })}`,
    fast: true,
  },
  ...(
    [
      [
        'each call its own request id, key and deadline',
        '[{"r":"per-call-one-0001","d":1500,"k":"key-one-0001"},{"r":"per-call-two-0002"}]',
      ],
      ['a spent budget fails that call only', '[{"r":"spent-budget-0001","d":0},{"r":"left-budget-0002","d":2500}]'],
      ['not JSON', '[{"r":'],
      ['more entries than calls', '[{},{},{}]'],
      ['a malformed request id', '[{"r":"x"},{}]'],
      ['a malformed budget', '[{},{"d":-1}]'],
      ['a malformed trace', '[{"t":["00-x"]},{}]'],
    ] as const
  ).map(([name, header]) => ({
    name: `x-switchyard-calls: ${name}`,
    path: `/trpc/whoami,whoami?batch=1&input=${q({ 0: { json: {} }, 1: { json: {} } })}`,
    headers: { 'x-switchyard-calls': header },
    fast: true,
  })),
  {
    name: "x-switchyard-calls: an entry without a budget has the request's x-deadline-ms",
    path: `/trpc/whoami,whoami?batch=1&input=${q({ 0: { json: {} }, 1: { json: {} } })}`,
    headers: { 'x-deadline-ms': '3500', 'x-switchyard-calls': '[{"r":"own-budget-0001","d":1500},{"r":"request-budget-0002"}]' },
    fast: true,
  },
  {
    name: 'x-switchyard-calls: a call alone, as the mesh client sends it (no x-request-id)',
    path: `/trpc/whoami?input=${q({ json: {} })}`,
    headers: { 'x-switchyard-calls': '[{"r":"alone-call-0001","d":1500,"k":"key-alone-0001"}]' },
    noRequestId: true,
    fast: true,
  },
  {
    name: "x-switchyard-calls: a batch without x-request-id answers with its first call's id",
    path: `/trpc/whoami,whoami?batch=1&input=${q({ 0: { json: {} }, 1: { json: {} } })}`,
    headers: { 'x-switchyard-calls': '[{"r":"first-call-0001","d":2500},{"r":"second-call-0002","d":1500}]' },
    noRequestId: true,
    fast: true,
  },
  {
    name: "x-switchyard-calls: a call alone takes what its entry lacks from the request's headers",
    path: `/trpc/whoami?input=${q({ json: {} })}`,
    headers: { 'x-request-id': 'header-call-0001', 'idempotency-key': 'header-key-0001', 'x-switchyard-calls': '[{"d":2500}]' },
    fast: true,
  },
  {
    name: 'deadline header',
    path: `/trpc/greet?input=${q({ json: { name: 'A' } })}`,
    headers: { 'x-deadline-ms': '1500' },
    fast: true,
  },
];

/** Headers that differ by nature (time, framing, connection): not compared. */
const UNCOMPARED = new Set(['date', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);

async function send(base: string, probe: Probe) {
  const res = await fetch(`${base}${probe.path}`, {
    method: probe.method ?? 'GET',
    headers: {
      ...(probe.noRequestId ? {} : { 'x-request-id': `diff-${probe.name.replace(/[^A-Za-z0-9]+/g, '-')}`.slice(0, 100) }),
      ...probe.headers,
    },
    ...(probe.body !== undefined ? { body: probe.body } : {}),
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    if (!UNCOMPARED.has(key)) headers[key] = value;
  });
  return { status: res.status, body: await res.text(), headers, setCookie: res.headers.getSetCookie() };
}

describe('the fast tRPC path against the stock adapter', () => {
  it.each(corpus.map((p) => [p.name, p] as const))('%s: same status, body and headers', async (_name, probe) => {
    const [fast, stock] = await Promise.all([send(urls.fast, probe), send(urls.stock, probe)]);
    expect(fast).toEqual(stock);
  });

  it('gives each call of a batch what x-switchyard-calls says of it, and a 400 naming a bad entry', async () => {
    const probe = (name: string) => corpus.find((p) => p.name === `x-switchyard-calls: ${name}`)!;
    for (const base of [urls.fast, urls.stock]) {
      const own = await send(base, probe('each call its own request id, key and deadline'));
      expect(own.status).toBe(200);
      expect((JSON.parse(own.body) as Array<{ result: { data: { json: unknown } } }>).map((i) => i.result.data.json)).toEqual([
        { requestId: 'per-call-one-0001', key: 'key-one-0001', budgetS: 2 },
        // No entry field: a new request id (not the batch's), no key, the default deadline.
        { requestId: expect.not.stringMatching(/^(per-call-one-0001|diff-.*)$/) as unknown, key: null, budgetS: 10 },
      ]);
      const inherited = JSON.parse((await send(base, probe("an entry without a budget has the request's x-deadline-ms"))).body);
      expect(inherited).toMatchObject([
        { result: { data: { json: { requestId: 'own-budget-0001', budgetS: 2 } } } },
        { result: { data: { json: { requestId: 'request-budget-0002', budgetS: 4 } } } },
      ]);
      const spent = JSON.parse((await send(base, probe('a spent budget fails that call only'))).body) as unknown[];
      expect(spent).toMatchObject([
        { error: { json: { data: { appCode: 'DEADLINE_EXCEEDED' } } } },
        { result: { data: { json: { requestId: 'left-budget-0002', budgetS: 3 } } } },
      ]);
      // Without x-request-id (as the mesh client sends), the response's id is the first call's.
      const alone = await send(base, probe('a call alone, as the mesh client sends it (no x-request-id)'));
      expect(alone.headers['x-request-id']).toBe('alone-call-0001');
      expect(JSON.parse(alone.body)).toMatchObject({
        result: { data: { json: { requestId: 'alone-call-0001', key: 'key-alone-0001', budgetS: 2 } } },
      });
      // A call alone: its entry overrides the request's headers, and what it lacks is theirs.
      const lacking = await send(base, probe("a call alone takes what its entry lacks from the request's headers"));
      expect(JSON.parse(lacking.body)).toMatchObject({
        result: { data: { json: { requestId: 'header-call-0001', key: 'header-key-0001', budgetS: 3 } } },
      });
      const pair = await send(base, probe("a batch without x-request-id answers with its first call's id"));
      expect(pair.headers['x-request-id']).toBe('first-call-0001');
      expect(JSON.parse(pair.body)).toMatchObject([
        { result: { data: { json: { requestId: 'first-call-0001', budgetS: 3 } } } },
        { result: { data: { json: { requestId: 'second-call-0002', budgetS: 2 } } } },
      ]);
      // A refused header without x-request-id: the 400, and a new id (nothing of the header echoed).
      const refused = await send(base, { ...probe('a malformed request id'), noRequestId: true });
      expect(refused.status).toBe(400);
      expect(refused.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const refusals = {
        'not JSON': 'x-switchyard-calls: is not JSON',
        'more entries than calls': 'x-switchyard-calls: has 3 entries for 2 calls',
        'a malformed request id': 'x-switchyard-calls: entry 0: "r" (request id) must be 8-128 characters',
        'a malformed budget': 'x-switchyard-calls: entry 1: "d" (budget) must be a whole number of milliseconds',
        'a malformed trace': 'x-switchyard-calls: entry 0: "t" (trace) must be an object',
      };
      for (const [name, message] of Object.entries(refusals)) {
        const answer = await send(base, probe(name));
        expect(answer.status, name).toBe(400);
        const items = JSON.parse(answer.body) as Array<{ error: { json: { message: string; data: { code: string } } } }>;
        expect(
          items.map((i) => i.error.json.message.slice(0, message.length)),
          name,
        ).toEqual([message, message]);
      }
    }
  });

  it('takes exactly the requests it can answer the same way (the rest goes to the stock adapter)', () => {
    const fast = createFastTrpc({
      router,
      maxBodyBytes: 2048,
      maxBatchSize: 5,
      createContext: () => {
        throw new Error('unused');
      },
      onError: () => undefined,
    });
    for (const probe of corpus) {
      const url = probe.path;
      const req = {
        method: probe.method ?? 'GET',
        url,
        headers: {
          ...Object.fromEntries(Object.entries(probe.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
          ...(probe.body !== undefined ? { 'content-length': String(Buffer.byteLength(probe.body)) } : {}),
        },
      } as unknown as IncomingMessage;
      const path = url.slice('/trpc/'.length).split('?')[0]!;
      expect(fast.select(req, path) !== undefined, probe.name).toBe(probe.fast);
    }
    expect(corpus.filter((p) => p.fast).length).toBeGreaterThan(25);
  });

  it('a client that goes away in the middle of a body costs nothing: the service keeps answering', async () => {
    const { port } = new URL(urls.fast);
    // The service's side of the request, as node's diagnostics channel hands it over.
    let received: IncomingMessage | undefined;
    const onRequest = (message: unknown) => {
      const { request: req } = message as { request: IncomingMessage };
      if (req.url === '/trpc/save' && req.headers['x-test'] === 'goes-away') received = req;
    };
    subscribe('http.server.request.start', onRequest);
    try {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/trpc/save',
        headers: { 'content-type': 'application/json', 'content-length': '500', 'x-test': 'goes-away' },
      });
      req.on('error', () => undefined);
      req.write('{"json":{"at":');
      // The client leaves once the service is reading the body, and the service sees it go.
      const server = await pollUntil('the service reading the body', () => received);
      const closed = new Promise((resolve) => server.once('close', resolve));
      req.destroy();
      await closed;
      expect(server.complete).toBe(false);
    } finally {
      unsubscribe('http.server.request.start', onRequest);
    }
    const res = await fetch(`${urls.fast}/trpc/greet?input=${q({ json: { name: 'still here' } })}`);
    expect(res.status).toBe(200);
  });

  it('@trpc/client works against it: httpLink, httpBatchLink and httpBatchStreamLink', async () => {
    for (const link of [httpLink, httpBatchLink, httpBatchStreamLink]) {
      const client = createTRPCClient<RouterOf<typeof contract>>({
        links: [link({ url: `${urls.fast}/trpc`, transformer: superjson, headers: { authorization: 'Bearer good' } })],
      });
      const [a, b, mine, saved] = await Promise.all([
        client.greet.query({ name: 'A' }),
        client.greet.query({ name: 'B' }),
        client.mine.query({}),
        client.save.mutate({ at: new Date(5), tags: ['t'] }),
      ]);
      expect(a).toEqual({ text: 'hello A', at: new Date(Date.UTC(2026, 0, 1)) });
      expect(b.text).toBe('hello B');
      expect(mine).toEqual({ id: 'u-1' });
      expect(saved).toEqual({ at: new Date(5), tags: ['t'], note: null });
      await expect(client.missing.query({ id: 'z' })).rejects.toMatchObject({ data: { appCode: 'NOT_FOUND', httpStatus: 404 } });
    }
  });
});
