import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTE_TITLE_MAX, type NotesRouter } from '@switchyard/api-contracts';
import { createPgPool, migrate } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import type { Service, ServiceAddress } from '@switchyard/infra/server';
import { createAccessTokenVerifier } from '@switchyard/infra/auth';
import {
  captureLogs,
  createTestDatabase,
  startTestTokenIssuer,
  type TestDatabase,
  type TestTokenIssuer,
} from '@switchyard/infra/testing';
import { readEnv } from './env.js';
import { createNotesService } from './server.js';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

let db: TestDatabase;
let pool: ReturnType<typeof createPgPool>;
let service: Service;
let address: ServiceAddress;
let issuer: TestTokenIssuer;
const logs = captureLogs();

beforeAll(async () => {
  [db, issuer] = await Promise.all([createTestDatabase(), startTestTokenIssuer()]);
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
  service = createNotesService({
    config,
    pool,
    logger,
    verifyAccessToken: createAccessTokenVerifier({ jwksUrl: issuer.jwksUrl }),
  });
  address = await service.start();
});

afterAll(async () => {
  await service?.shutdown('tests done');
  await pool?.end();
  await db?.drop();
  await issuer?.close();
});

/** A signed-in user: their id and a client sending their access token. */
async function signIn() {
  const userId = randomUUID();
  const token = await issuer.sign(userId);
  const auth = { authorization: `Bearer ${token}` };
  const api = createTRPCClient<NotesRouter>({
    links: [httpBatchLink({ url: `${address.url}/trpc`, transformer: superjson, maxItems: 5, headers: auth })],
  });
  return { userId, token, api, auth };
}

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
  it('create, get, list, update, delete round trip, owned by the signed-in user', async () => {
    const { api, userId: ownerId } = await signIn();
    const created = await api.create.mutate({ title: '  First note  ', body: 'hello' });
    expect(created).toMatchObject({ ownerId, title: 'First note', body: 'hello', version: 1 });
    expect(created.createdAt).toBeInstanceOf(Date);

    expect(await api.get.query({ id: created.id })).toEqual({ ...created, author: null });
    const page = await api.list.query({});
    expect(page).toEqual({ items: [created], nextCursor: null });

    const updated = await api.update.mutate({ id: created.id, body: 'changed', expectedVersion: 1 });
    expect(updated).toMatchObject({ title: 'First note', body: 'changed', version: 2 });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());

    expect(await api.delete.mutate({ id: created.id })).toEqual({ id: created.id });
    const gone = await api.get.query({ id: created.id }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(TRPCClientError);
    expect((gone as TRPCClientError<NotesRouter>).data).toMatchObject({
      code: 'NOT_FOUND',
      appCode: 'NOT_FOUND',
      httpStatus: 404,
    });
  });

  it('pages through a list with cursors, newest first, without gaps or repeats', async () => {
    const { api } = await signIn();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await api.create.mutate({ title: `n${i}` })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await api.list.query({ limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((n) => n.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it("never shows or changes another owner's note: NOT_FOUND, no existence leak", async () => {
    const owner = await signIn();
    const other = await signIn();
    const note = await owner.api.create.mutate({ title: 'mine' });
    const missing = randomUUID();
    for (const call of [
      () => other.api.get.query({ id: note.id }),
      () => other.api.update.mutate({ id: note.id, title: 'stolen' }),
      () => other.api.delete.mutate({ id: note.id }),
      () => owner.api.get.query({ id: missing }),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as TRPCClientError<NotesRouter>;
      expect(error.data?.appCode).toBe('NOT_FOUND');
      expect(error.message).toBe('Note not found');
    }
    expect(await owner.api.get.query({ id: note.id })).toEqual({ ...note, author: null });
    expect((await other.api.list.query({})).items).toEqual([]);
  });

  it('refuses a stale expectedVersion with CONFLICT and leaves the note unchanged', async () => {
    const { api, auth } = await signIn();
    const note = await api.create.mutate({ title: 't' });
    await api.update.mutate({ id: note.id, title: 't2' });
    const res = await post('update', { json: { id: note.id, title: 't3', expectedVersion: 1 } }, auth);
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.json.data.appCode).toBe('CONFLICT');
    expect((await api.get.query({ id: note.id })).title).toBe('t2');
  });

  it.each([
    ['an empty title', { title: '   ' }, ['title']],
    ['a title too long', { title: 'x'.repeat(NOTE_TITLE_MAX + 1) }, ['title']],
    ['a NUL character', { title: 'a\u0000b' }, ['title']],
    ['a lone surrogate', { title: 'bad \ud800 text' }, ['title']],
    ['a body too long', { title: 'ok', body: 'x'.repeat(10_001) }, ['body']],
    ['an owner id in the input (the owner is the signed-in user)', { ownerId: randomUUID(), title: 'ok' }, ['']],
    ['a wrong type and an unknown field', { title: 42, extra: true }, ['', 'title']],
  ])('create with %s gives 400 naming the field, stores nothing, sends no stack', async (_name, patch, paths) => {
    const before = await countNotes();
    const { auth } = await signIn();
    const res = await post('create', { json: { ...patch } }, auth);
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
    const { auth } = await signIn();
    const res = await fetch(`${address.url}/trpc/list?input=${encodeURIComponent(JSON.stringify({ json: patch }))}`, {
      headers: auth,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.json.data.issues?.map((i) => i.path)).toEqual([Object.keys(patch)[0]]);
  });

  it('update with neither title nor body gives 400', async () => {
    const { auth } = await signIn();
    const res = await post('update', { json: { id: randomUUID() } }, auth);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.json.data.issues?.[0]?.path).toBe('title');
  });

  it('an oversized body gets 413 and creates nothing', async () => {
    const before = await countNotes();
    const { auth } = await signIn();
    const res = await post('create', { json: { title: 'big', body: 'x'.repeat(70_000) } }, auth);
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.json.data.appCode).toBe('BODY_TOO_LARGE');
    expect(await countNotes()).toBe(before);
  });

  it('a batch over the limit gets 400 and runs no handler', async () => {
    const before = await countNotes();
    const { auth } = await signIn();
    const calls = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [String(i), { json: { title: `b${i}` } }]));
    const res = await post(`${Array(6).fill('create').join(',')}?batch=1`, calls, auth);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('BATCH_TOO_LARGE');
    expect(await countNotes()).toBe(before);
  });

  it('echoes the request id and logs it on the access line', async () => {
    const { auth } = await signIn();
    const res = await post('create', { json: { title: 'traced' } }, { ...auth, 'x-request-id': 'notes-test-request-0001' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('notes-test-request-0001');
    const line = logs.lines().find((l) => l.requestId === 'notes-test-request-0001');
    expect(line).toMatchObject({ service: 'notes', procedure: 'create', outcome: 'OK', msg: 'call' });
  });

  it('refuses calls without a valid access token: 401, nothing runs', async () => {
    const before = await countNotes();
    const anonymous = await post('create', { json: { title: 'anon' } });
    expect(anonymous.status).toBe(401);
    const forged = await post(
      'create',
      { json: { title: 'forged' } },
      { authorization: `Bearer ${(await issuer.sign(randomUUID())).slice(0, -4)}AAAA` },
    );
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await countNotes()).toBe(before);
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
