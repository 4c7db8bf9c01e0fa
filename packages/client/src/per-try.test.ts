import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSwitchyardClient } from './index.js';

// Per-try timeouts against a gateway on port 0 that leaves chosen requests unanswered, as a
// stopped instance does, and answers the others with a tRPC result.

interface Seen {
  method: string;
  url: string;
  deadline: string | undefined;
  key: string | undefined;
}

let server: Server;
let baseUrl = '';
const seen: Seen[] = [];
/** How many of the next requests get no answer. */
let unanswered = 0;
const held: ServerResponse[] = [];

const result = (req: IncomingMessage, data: unknown) => {
  const item = { result: { data: { json: data } } };
  return JSON.stringify(req.url!.includes('batch=1') ? [item] : item);
};

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({
      method: req.method!,
      url: req.url!,
      deadline: req.headers['x-deadline-ms'] as string | undefined,
      key: req.headers['idempotency-key'] as string | undefined,
    });
    req.resume();
    if (unanswered > 0) {
      unanswered--;
      held.push(res);
      return;
    }
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(result(req, req.url!.includes('/list') ? { items: [], nextCursor: null } : { id: 'n1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  unanswered = 0;
});

const client = () =>
  createSwitchyardClient({
    baseUrl,
    tokens: { accessToken: 't', refreshToken: '' },
    timeoutMs: 2_000,
    perTryTimeoutMs: 200,
    backoff: { baseMs: 1, capMs: 1 },
  });

describe('per-try timeouts', () => {
  it('a query without an answer is made again within its per-try timeout, its budget sent as x-deadline-ms', async () => {
    unanswered = 1;
    const started = Date.now();
    await expect(client().notes.list.query({})).resolves.toEqual({ items: [], nextCursor: null });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(seen).toHaveLength(2);
    expect(seen.map((s) => s.deadline)).toEqual(['200', '200']);
  });

  it('a mutation without an idempotency key is sent once: past its timeout, OUTCOME_UNKNOWN, not retryable', async () => {
    unanswered = 1;
    const error = (await client()
      .notes.create.mutate({ title: 'once' })
      .catch((e: unknown) => e)) as TRPCClientError<never>;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.data).toMatchObject({ appCode: 'OUTCOME_UNKNOWN', retryable: false });
    expect(seen).toHaveLength(1);
  });

  it('a mutation with an idempotency key is made again with the same key, alone in its request', async () => {
    unanswered = 1;
    const created = await client().notes.create.mutate({ title: 'keyed' }, { context: { idempotencyKey: 'k-1' } });
    expect(created).toEqual({ id: 'n1' });
    expect(seen.map((s) => [s.method, s.key])).toEqual([
      ['POST', 'k-1'],
      ['POST', 'k-1'],
    ]);
    expect(seen[0]!.url).not.toContain('batch=1');
  });
});
