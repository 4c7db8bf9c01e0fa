import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTE_TITLE_MAX, type NotesRouter } from '@switchyard/api-contracts';
import { createPgPool, migrate } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import type { Service, ServiceAddress } from '@switchyard/infra/server';
import { captureLogs, createTestDatabase, type TestDatabase } from '@switchyard/infra/testing';
import { readEnv } from './env.js';
import { createNotesService } from './server.js';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

let db: TestDatabase;
let pool: ReturnType<typeof createPgPool>;
let service: Service;
let address: ServiceAddress;
const logs = captureLogs();

beforeAll(async () => {
  db = await createTestDatabase();
  const logger = createLogger({ service: 'notes', destination: logs.stream });
  await migrate({ databaseUrl: db.url, dir: MIGRATIONS, logger });
  pool = createPgPool({ connectionString: db.url, max: 4 });
  // NODE_ENV is deliberately unset: production behaviour.
  const config = readEnv({
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    MAX_BATCH_SIZE: '5',
    MAX_BODY_BYTES: '65536',
  });
  service = createNotesService({ config, pool, logger });
  address = await service.start();
});

afterAll(async () => {
  await service?.shutdown('tests done');
  await pool?.end();
  await db?.drop();
});

const client = () =>
  createTRPCClient<NotesRouter>({ links: [httpBatchLink({ url: `${address.url}/trpc`, transformer: superjson, maxItems: 5 })] });

const post = (path: string, json: unknown, headers: Record<string, string> = {}) =>
  fetch(`${address.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(json),
  });

type ErrorBody = {
  error: { json: { message: string; data: { appCode: string; code: string; issues?: Array<{ path: string }>; stack?: string } } };
};

const countNotes = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM notes')).rows[0]!.n);

describe('notes over real HTTP', () => {
  it(`runs against ${process.env.TEST_DATABASE === 'pglite' ? 'PGlite' : 'the PostgreSQL server when one answers'}`, () => {
    expect(['postgres', 'pglite']).toContain(db.kind);
  });

  it('create, get, list, update, delete round trip', async () => {
    const api = client();
    const ownerId = randomUUID();
    const created = await api.create.mutate({ ownerId, title: '  First note  ', body: 'hello' });
    expect(created).toMatchObject({ ownerId, title: 'First note', body: 'hello', version: 1 });
    expect(created.createdAt).toBeInstanceOf(Date);

    expect(await api.get.query({ ownerId, id: created.id })).toEqual(created);
    const page = await api.list.query({ ownerId });
    expect(page).toEqual({ items: [created], nextCursor: null });

    const updated = await api.update.mutate({ ownerId, id: created.id, body: 'changed', expectedVersion: 1 });
    expect(updated).toMatchObject({ title: 'First note', body: 'changed', version: 2 });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());

    expect(await api.delete.mutate({ ownerId, id: created.id })).toEqual({ id: created.id });
    const gone = await api.get.query({ ownerId, id: created.id }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(TRPCClientError);
    expect((gone as TRPCClientError<NotesRouter>).data).toMatchObject({
      code: 'NOT_FOUND',
      appCode: 'NOT_FOUND',
      httpStatus: 404,
    });
  });

  it('pages through a list with cursors, newest first, without gaps or repeats', async () => {
    const api = client();
    const ownerId = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await api.create.mutate({ ownerId, title: `n${i}` })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await api.list.query({ ownerId, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((n) => n.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it("never shows or changes another owner's note: NOT_FOUND, no existence leak", async () => {
    const api = client();
    const owner = randomUUID();
    const other = randomUUID();
    const note = await api.create.mutate({ ownerId: owner, title: 'mine' });
    const missing = randomUUID();
    for (const call of [
      () => api.get.query({ ownerId: other, id: note.id }),
      () => api.update.mutate({ ownerId: other, id: note.id, title: 'stolen' }),
      () => api.delete.mutate({ ownerId: other, id: note.id }),
      () => api.get.query({ ownerId: owner, id: missing }),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as TRPCClientError<NotesRouter>;
      expect(error.data?.appCode).toBe('NOT_FOUND');
      expect(error.message).toBe('Note not found');
    }
    expect(await api.get.query({ ownerId: owner, id: note.id })).toEqual(note);
    expect((await api.list.query({ ownerId: other })).items).toEqual([]);
  });

  it('refuses a stale expectedVersion with CONFLICT and leaves the note unchanged', async () => {
    const api = client();
    const ownerId = randomUUID();
    const note = await api.create.mutate({ ownerId, title: 't' });
    await api.update.mutate({ ownerId, id: note.id, title: 't2' });
    const res = await post('update', { json: { ownerId, id: note.id, title: 't3', expectedVersion: 1 } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.json.data.appCode).toBe('CONFLICT');
    expect((await api.get.query({ ownerId, id: note.id })).title).toBe('t2');
  });

  it.each([
    ['an empty title', { title: '   ' }, ['title']],
    ['a title too long', { title: 'x'.repeat(NOTE_TITLE_MAX + 1) }, ['title']],
    ['a NUL character', { title: 'a\u0000b' }, ['title']],
    ['a lone surrogate', { title: 'bad \ud800 text' }, ['title']],
    ['a body too long', { title: 'ok', body: 'x'.repeat(10_001) }, ['body']],
    ['a bad owner id', { ownerId: 'not-a-uuid', title: 'ok' }, ['ownerId']],
    ['a wrong type and an unknown field', { title: 42, extra: true }, ['', 'title']],
  ])('create with %s gives 400 naming the field, stores nothing, sends no stack', async (_name, patch, paths) => {
    const before = await countNotes();
    const res = await post('create', { json: { ownerId: randomUUID(), ...patch } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.json.data.appCode).toBe('VALIDATION_FAILED');
    expect(body.error.json.data.issues?.map((i) => i.path).sort()).toEqual(paths);
    expect(body.error.json.data.stack).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain('"stack"');
    expect(await countNotes()).toBe(before);
  });

  it.each([
    ['a cursor it never issued', { cursor: 'bm90LWEtY3Vyc29y' }],
    ['a limit over the page maximum', { limit: 101 }],
    ['a fractional limit', { limit: 2.5 }],
  ])('list with %s gives 400 naming the field', async (_name, patch) => {
    const input = { ownerId: randomUUID(), ...patch };
    const res = await fetch(`${address.url}/trpc/list?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.json.data.issues?.map((i) => i.path)).toEqual([Object.keys(patch)[0]]);
  });

  it('update with neither title nor body gives 400', async () => {
    const res = await post('update', { json: { ownerId: randomUUID(), id: randomUUID() } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.json.data.issues?.[0]?.path).toBe('title');
  });

  it('an oversized body gets 413 and creates nothing', async () => {
    const before = await countNotes();
    const res = await post('create', { json: { ownerId: randomUUID(), title: 'big', body: 'x'.repeat(70_000) } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.json.data.appCode).toBe('BODY_TOO_LARGE');
    expect(await countNotes()).toBe(before);
  });

  it('a batch over the limit gets 400 and runs no handler', async () => {
    const before = await countNotes();
    const ownerId = randomUUID();
    const calls = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [String(i), { json: { ownerId, title: `b${i}` } }]));
    const res = await post(`${Array(6).fill('create').join(',')}?batch=1`, calls);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('BATCH_TOO_LARGE');
    expect(await countNotes()).toBe(before);
  });

  it('echoes the request id and logs it on the access line', async () => {
    const res = await post(
      'create',
      { json: { ownerId: randomUUID(), title: 'traced' } },
      { 'x-request-id': 'notes-test-request-0001' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('notes-test-request-0001');
    const line = logs.lines().find((l) => l.requestId === 'notes-test-request-0001');
    expect(line).toMatchObject({ service: 'notes', procedure: 'create', outcome: 'OK', msg: 'call' });
  });

  it('serves /metrics on the metrics port only, and reports the database in readiness', async () => {
    expect((await fetch(`${address.url}/metrics`)).status).toBe(404);
    const metrics = await (await fetch(`http://127.0.0.1:${address.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_rpc_requests_total\{procedure="create",type="mutation",code="OK",service="notes"\} \d+/);
    expect(metrics).toMatch(/switchyard_rpc_errors_total\{procedure="create",code="BAD_REQUEST",service="notes"\} \d+/);
    const ready = await fetch(`${address.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', dependencies: { postgres: 'up' } });
  });
});
