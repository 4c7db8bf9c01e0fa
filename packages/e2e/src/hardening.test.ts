import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_HEADERS } from '@switchyard/infra/server';
import { pollUntil } from '@switchyard/infra/testing';
import { signUp } from './accounts.js';
import { startGateway } from './gateway.js';
import { CADDYFILE } from './repo.js';
import { startStack, type Stack } from './stack.js';

// What an outsider can send through the gateway: every answer is the mesh's JSON error, and no
// request of theirs takes an instance out of rotation.
let stack: Stack;
/** One account per test: each test's calls count against its own rate limit. */
let token: string;
let loadToken: string;
let slowToken: string;

beforeAll(async () => {
  // The steady query load runs well past the default 600 calls a minute per user; limits are
  // not what these tests are about.
  stack = await startStack({ env: { RATE_LIMIT_POINTS: '100000' } });
  token = await signUp(stack.gateway.url, 'outsider@example.com', 'outside the gate 1');
  loadToken = await signUp(stack.gateway.url, 'steady@example.com', 'outside the gate 2');
  slowToken = await signUp(stack.gateway.url, 'slowpoke@example.com', 'outside the gate 3');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw request through the gateway; a body is sent with `content-length`, or chunked. */
function send(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean } = {},
): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    // The gateway may answer before it has read an oversized body and stop reading: the answer
    // counts, a write error after it does not.
    req.on('error', reject);
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    if (!body) return void req.end();
    if (!options.chunked) {
      req.setHeader('content-length', body.length);
      return void req.end(body);
    }
    for (let at = 0; at < body.length; at += 256 * 1024) req.write(body.subarray(at, at + 256 * 1024));
    req.end();
  });
}

/**
 * Requests inside the gateway's `/api/*` routes right now, from its own metrics (Caddy 2.6
 * counts its top-level handlers; the reverse proxy runs inside this one).
 */
async function inGateway(): Promise<number> {
  const text = await (await fetch(stack.gateway.metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('caddy_http_requests_in_flight{') && line.includes('handler="subroute"')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** Calls of `list` each notes instance has served, from its own metrics port. */
async function listCalls(): Promise<number[]> {
  return Promise.all(
    stack.notes.map(async (instance) => {
      const text = await (await fetch(`http://127.0.0.1:${instance.metricsPort}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith('switchyard_rpc_requests_total{') && line.includes('procedure="list"')) {
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
      }
      return sum;
    }),
  );
}

describe('oversized requests through the gateway', () => {
  it('200 of them (1 MiB + 1 to 8 MiB, declared and chunked) are each answered 413 JSON while queries keep reaching all 3 instances', async () => {
    const MiB = 1024 * 1024;
    const payload = Buffer.alloc(8 * MiB, 'a');
    const before = await listCalls();
    const statuses: Record<string, number> = {};
    let stop = false;
    const queryFailures: string[] = [];
    let queries = 0;
    // A steady load of queries, no retries: a 502 or 503 on any of them would show here.
    const load = Array.from({ length: 3 }, async () => {
      while (!stop) {
        const answer = await send(stack.gateway.url, '/api/notes/trpc/list?input=%7B%22json%22%3A%7B%7D%7D', {
          headers: { authorization: `Bearer ${loadToken}` },
        });
        queries++;
        if (answer.status !== 200) queryFailures.push(`${answer.status} ${answer.body.slice(0, 200)}`);
      }
    });
    for (let i = 0; i < 200; i++) {
      const size = MiB + 1 + Math.floor(((7 * MiB - 1) * i) / 199);
      const answer = await send(stack.gateway.url, '/api/notes/trpc/create', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload.subarray(0, size),
        chunked: i % 2 === 1,
      });
      const key = `${answer.status} ${String(answer.headers['content-type'])}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (answer.status === 413) expect(JSON.parse(answer.body).error.json.data.appCode).toBe('BODY_TOO_LARGE');
    }
    stop = true;
    await Promise.all(load);
    const after = await listCalls();
    const served = after.map((n, i) => n - before[i]!);
    console.log(`oversized: ${JSON.stringify(statuses)}; queries ${queries}, per instance ${served.join('/')}`);
    expect(statuses).toEqual({ '413 application/json': 200 });
    expect(queryFailures).toEqual([]);
    // Round-robin over 3 instances kept all three: each took at least a fifth of the queries.
    for (const n of served) expect(n).toBeGreaterThanOrEqual(queries / 5);
  });
});

describe('slow and abandoned requests through the gateway', () => {
  it('clients that go away mid-body or send a body slowly eject no instance', async () => {
    const target = new URL(stack.gateway.url);
    // Twelve clients each send half a declared body and, once the gateway is proxying all of
    // them (past its routes, no request is held back), hang up.
    const halves = Array.from({ length: 12 }, () => {
      const req = request({
        host: target.hostname,
        port: target.port,
        path: '/api/notes/trpc/create',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '2000', authorization: `Bearer ${slowToken}` },
      });
      req.on('error', () => undefined);
      req.write('{"json":{"title":"' + 'x'.repeat(900));
      return req;
    });
    await pollUntil('the 12 half bodies in the gateway', async () => (await inGateway()) >= 12);
    for (const req of halves) req.destroy();
    // A slow body (three pieces, 200 ms apart) is an ordinary request.
    const slow = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: '/api/notes/trpc/create',
          method: 'POST',
          headers: { ...json, authorization: `Bearer ${slowToken}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      const parts = ['{"json":', '{"title":"slow', ' body"}}'];
      const next = () => (parts.length === 1 ? req.end(parts.shift()) : (req.write(parts.shift()), setTimeout(next, 200)));
      next();
    });
    expect(slow).toBe(200);
    // Every instance is still in rotation: 30 queries in a row spread over all three.
    const before = await listCalls();
    for (let i = 0; i < 30; i++) {
      const answer = await send(stack.gateway.url, '/api/notes/trpc/list?input=%7B%22json%22%3A%7B%7D%7D', {
        headers: { authorization: `Bearer ${slowToken}` },
      });
      expect(answer.status).toBe(200);
    }
    const served = (await listCalls()).map((n, i) => n - before[i]!);
    for (const n of served) expect(n).toBeGreaterThanOrEqual(6);
  });
});

describe('internal headers', () => {
  it('the Caddyfile strips exactly the runtime list, and a service behind the gateway never sees one', async () => {
    const caddyfile = await readFile(CADDYFILE, 'utf8');
    const stripped = [...caddyfile.matchAll(/^\s*request_header -(\S+)$/gm)].map((m) => m[1]!.toLowerCase());
    expect(stripped.sort()).toEqual([...INTERNAL_HEADERS].sort());

    // An upstream that records what reaches it, behind a gateway with the repository Caddyfile.
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const echo = createServer((req, res) => {
      if (req.url !== '/ready') seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const upstream = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const gateway = await startGateway({
      upstreams: { auth: [upstream], notes: [upstream], activity: [upstream] },
      corsOrigins: [],
      webRoot: stack.webRoot,
    });
    try {
      for (const header of INTERNAL_HEADERS) {
        for (const name of [header, header.toUpperCase()]) {
          const answer = await send(gateway.url, '/api/notes/trpc/list', {
            headers: { [name]: 'notes.outside-value-0123456789' },
          });
          expect(answer.status).toBe(200);
        }
      }
      expect(seen).toHaveLength(INTERNAL_HEADERS.length * 2);
      for (const headers of seen) for (const header of INTERNAL_HEADERS) expect(headers[header]).toBeUndefined();
      // The control: a header that is not internal does pass.
      await send(gateway.url, '/api/notes/trpc/list', { headers: { 'x-request-id': 'outside-id-1' } });
      expect(seen.at(-1)!['x-request-id']).toBe('outside-id-1');
    } finally {
      await gateway.stop();
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it('a real service credential sent from outside is not honoured', async () => {
    // notes would refuse a wrong credential with 401 and accept a right one as the service: the
    // gateway removes it, so the call is an anonymous one (notes.list needs a user).
    const answer = await send(stack.gateway.url, '/api/notes/trpc/list', {
      headers: { 'x-service-credential': 'notes.not-a-key-but-well-formed-0123' },
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.json.data.appCode).toBe('UNAUTHENTICATED');
    expect(answer.headers['www-authenticate']).toBeUndefined();
  });
});

/** The appCode and request id of any of the mesh's error bodies (tRPC's, a batch's, the gateway's). */
function errorOf(body: string): { appCode?: string; requestId?: string; message?: string } {
  const parsed = JSON.parse(body) as unknown;
  const item = (Array.isArray(parsed) ? parsed.find((i: { error?: unknown }) => i.error) : parsed) as {
    error: {
      json?: { message: string; data: { appCode: string; requestId?: string } };
      message?: string;
      appCode?: string;
      requestId?: string;
    };
  };
  const { error } = item;
  if (error.json) return { appCode: error.json.data.appCode, requestId: error.json.data.requestId, message: error.json.message };
  return { appCode: error.appCode, requestId: error.requestId, message: error.message };
}

const q = (input: string) => `input=${encodeURIComponent(input)}`;
const deep = (n: number) => `{"json":{},"meta":{"values":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`;
const json = { 'content-type': 'application/json' };
type Row = [
  name: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  status: number,
  appCode: string,
];

describe('malformed requests through the gateway (NODE_ENV unset)', () => {
  const bearer = () => ({ authorization: `Bearer ${token}` });
  const rows = (): Row[] => [
    ['unknown service', 'GET', '/api/nope/trpc/x', {}, undefined, 404, 'ROUTE_NOT_FOUND'],
    ["a service's metrics", 'GET', '/api/notes/metrics', {}, undefined, 404, 'ROUTE_NOT_FOUND'],
    ["a service's readiness", 'GET', '/api/notes/ready', {}, undefined, 404, 'ROUTE_NOT_FOUND'],
    ['unknown procedure', 'GET', '/api/notes/trpc/nope', bearer(), undefined, 404, 'PROCEDURE_NOT_FOUND'],
    ['query input not JSON', 'GET', `/api/notes/trpc/list?${q('{bad')}`, bearer(), undefined, 400, 'PARSE_ERROR'],
    ['body not JSON', 'POST', '/api/notes/trpc/create', { ...bearer(), ...json }, '{bad', 400, 'PARSE_ERROR'],
    [
      'body of text/plain',
      'POST',
      '/api/notes/trpc/create',
      { ...bearer(), 'content-type': 'text/plain' },
      'x',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'body without a content type',
      'POST',
      '/api/notes/trpc/create',
      bearer(),
      '{"json":{"title":"x"}}',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'form-urlencoded body',
      'POST',
      '/api/notes/trpc/create',
      { ...bearer(), 'content-type': 'application/x-www-form-urlencoded' },
      'a=1',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'multipart body',
      'POST',
      '/api/notes/trpc/create',
      { ...bearer(), 'content-type': 'multipart/form-data; boundary=x' },
      '--x\r\n\r\n--x--',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['PUT', 'PUT', '/api/notes/trpc/list', bearer(), undefined, 405, 'METHOD_NOT_SUPPORTED'],
    ['DELETE', 'DELETE', '/api/notes/trpc/create', bearer(), undefined, 405, 'METHOD_NOT_SUPPORTED'],
    [
      'a mutation by GET',
      'GET',
      `/api/notes/trpc/create?${q('{"json":{"title":"x"}}')}`,
      bearer(),
      undefined,
      405,
      'METHOD_NOT_SUPPORTED',
    ],
    ['a query by POST', 'POST', '/api/notes/trpc/list', { ...bearer(), ...json }, '{"json":{}}', 405, 'METHOD_NOT_SUPPORTED'],
    [
      'a batch over the limit',
      'GET',
      `/api/notes/trpc/${Array(21).fill('list').join(',')}?batch=1`,
      bearer(),
      undefined,
      400,
      'BATCH_TOO_LARGE',
    ],
    [
      'a batch input that is not an object',
      'GET',
      `/api/notes/trpc/list,list?batch=1&${q('[1]')}`,
      bearer(),
      undefined,
      400,
      'BAD_REQUEST',
    ],
    ['input nested 10,000 deep', 'POST', '/api/notes/trpc/create', { ...bearer(), ...json }, deep(10_000), 400, 'BAD_REQUEST'],
    ['two paths without batch=1', 'GET', '/api/notes/trpc/list,list', bearer(), undefined, 404, 'PROCEDURE_NOT_FOUND'],
    [
      'an input URL over the header limit',
      'GET',
      `/api/notes/trpc/list?${q(deep(10_000))}`,
      bearer(),
      undefined,
      431,
      'BAD_REQUEST',
    ],
    ['a body of null', 'POST', '/api/notes/trpc/create', { ...bearer(), ...json }, 'null', 400, 'BAD_REQUEST'],
    ['PATCH', 'PATCH', '/api/notes/trpc/create', { ...bearer(), ...json }, '{"json":{"title":"x"}}', 405, 'METHOD_NOT_SUPPORTED'],
    [
      'a field of the wrong type',
      'POST',
      '/api/notes/trpc/create',
      { ...bearer(), ...json },
      '{"json":{"title":5}}',
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a query input of the wrong type',
      'GET',
      `/api/notes/trpc/list?${q('{"json":{"limit":"ten"}}')}`,
      bearer(),
      undefined,
      400,
      'VALIDATION_FAILED',
    ],
    ['a body over 1 MiB', 'POST', '/api/notes/trpc/create', json, 'x'.repeat(1024 * 1024 + 1), 413, 'BODY_TOO_LARGE'],
    [
      'a garbage bearer token',
      'GET',
      '/api/notes/trpc/list',
      { authorization: 'Bearer garbage' },
      undefined,
      401,
      'UNAUTHENTICATED',
    ],
    ['basic authorization', 'GET', '/api/notes/trpc/list', { authorization: 'Basic YTpi' }, undefined, 401, 'UNAUTHENTICATED'],
    ['no sign-in', 'GET', '/api/notes/trpc/list', {}, undefined, 401, 'UNAUTHENTICATED'],
    [
      'a malformed Idempotency-Key',
      'POST',
      '/api/notes/trpc/create',
      { ...bearer(), ...json, 'idempotency-key': 'no spaces!' },
      '{"json":{"title":"x"}}',
      400,
      'VALIDATION_FAILED',
    ],
    ['Origin: null', 'GET', '/api/notes/trpc/list', { origin: 'null' }, undefined, 403, 'FORBIDDEN'],
    [
      'a preflight from another origin',
      'OPTIONS',
      '/api/notes/trpc/list',
      { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      undefined,
      403,
      'FORBIDDEN',
    ],
    [
      'headers over the limit',
      'GET',
      '/api/notes/trpc/list',
      { ...bearer(), 'x-padding': 'p'.repeat(40_000) },
      undefined,
      431,
      'BAD_REQUEST',
    ],
    ['an unknown gateway path', 'GET', '/metrics', {}, undefined, 404, 'ROUTE_NOT_FOUND'],
  ];

  it('answers each with its status and appCode, JSON, a request id, and no internal text', async () => {
    const table = rows();
    expect(table.length).toBeGreaterThanOrEqual(25);
    const wrong: string[] = [];
    for (const [name, method, path, headers, body, status, appCode] of table) {
      const answer = await send(stack.gateway.url, path, { method, headers, body });
      const problems: string[] = [];
      if (answer.status !== status) problems.push(`status ${answer.status}`);
      if (!String(answer.headers['content-type']).startsWith('application/json'))
        problems.push(`type ${String(answer.headers['content-type'])}`);
      const requestId = answer.headers['x-request-id'];
      if (typeof requestId !== 'string' || requestId.length < 8) problems.push('no x-request-id');
      let error: ReturnType<typeof errorOf> = {};
      try {
        error = errorOf(answer.body);
      } catch {
        problems.push(`body ${answer.body.slice(0, 120)}`);
      }
      if (error.appCode !== appCode) problems.push(`appCode ${error.appCode}`);
      if (error.requestId !== requestId) problems.push(`body requestId ${error.requestId} != ${String(requestId)}`);
      if (/stack|Maximum call|SyntaxError|Unexpected token|Cannot read|undefined|at .*\(|\.ts:|node_modules/i.test(answer.body))
        problems.push(`internal text: ${answer.body.slice(0, 200)}`);
      if (problems.length > 0) wrong.push(`${name}: ${problems.join(', ')}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("the gateway's own paths", () => {
  it('/health, /ready and /.well-known/* at the root are 404 JSON, not the web app', async () => {
    for (const path of ['/health', '/ready', '/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      for (const accept of ['*/*', 'application/json', 'text/html']) {
        const answer = await send(stack.gateway.url, path, { headers: { accept } });
        expect([path, accept, answer.status, answer.headers['content-type']]).toEqual([path, accept, 404, 'application/json']);
        expect(errorOf(answer.body).appCode).toBe('ROUTE_NOT_FOUND');
      }
    }
  });

  it('serves index.html to page navigations only: a script or API reader of a missing path gets a JSON 404', async () => {
    const page = await send(stack.gateway.url, '/notes/123', { headers: { accept: 'text/html,*/*;q=0.8' } });
    expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    expect(page.body).toContain('Switchyard');
    for (const accept of ['*/*', 'application/json', 'application/javascript']) {
      const missing = await send(stack.gateway.url, '/assets/missing.js', { headers: { accept } });
      expect([accept, missing.status, missing.headers['content-type']]).toEqual([accept, 404, 'application/json']);
      expect(errorOf(missing.body).requestId).toBe(missing.headers['x-request-id']);
    }
    // A file that exists is served whatever the reader accepts.
    const index = await send(stack.gateway.url, '/index.html', { headers: { accept: '*/*' } });
    expect(index.status).toBe(200);
  });
});
