import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  createTestDatabase,
  pollUntil,
  sourceCommand,
  startServiceMain,
  startTestRedis,
  startTestTokenIssuer,
  type TestTokenIssuer,
  type SpawnedService,
  type TestDatabase,
} from '@switchyard/infra/testing';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const NODE_MAIN = sourceCommand('src/main.ts');

const spawned: SpawnedService[] = [];
const track = (s: SpawnedService) => (spawned.push(s), s);
afterEach(() => {
  for (const s of spawned.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.signal('SIGKILL');
});

let issuer: TestTokenIssuer;
let token = '';
const USER = randomUUID();
beforeAll(async () => {
  issuer = await startTestTokenIssuer();
  token = await issuer.sign(USER);
});
afterAll(() => issuer?.close());

/** Where the stand-in auth serves its JWKS: notes reads `${AUTH_URL}/.well-known/jwks.json`. */
const authUrl = () => issuer.jwksUrl.replace('/.well-known/jwks.json', '');

const call = async (base: string, path: string, json: unknown, bearer = token) => {
  const res = await fetch(`${base}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ json }),
  });
  return { status: res.status, body: (await res.json()) as { result?: { data: { json: { id: string; title: string } } } } };
};
describe('notes as a process (src/main.ts)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('stops at start-up with one line naming a bad variable', () => {
    const result = spawnSync(NODE_MAIN[0], NODE_MAIN.slice(1), {
      cwd: APP_DIR,
      env: { PATH: process.env.PATH, PORT: 'eighty', DATABASE_URL: db.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'notes: invalid environment: PORT: expected a port (0-65535) (got "eighty")',
    ]);
  });

  it('requires DATABASE_URL in production (an unset NODE_ENV)', () => {
    const result = spawnSync(NODE_MAIN[0], NODE_MAIN.slice(1), {
      cwd: APP_DIR,
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^notes: invalid environment: DATABASE_URL: required in production/);
  });

  it('serves notes from the database, publishes its changes, and exits 0 on SIGTERM after draining', async () => {
    const redis = await startTestRedis();
    const notes = track(
      await startServiceMain(APP_DIR, { DATABASE_URL: db.url, REDIS_URL: redis.url, AUTH_URL: authUrl(), DRAIN_DELAY_MS: '200' }),
    );
    await pollUntil('notes reporting Redis up in its readiness', async () => {
      const ready = (await (await fetch(`${notes.url}/ready`)).json()) as { dependencies: Record<string, string> };
      return ready.dependencies.redis === 'up';
    });
    const created = await call(notes.url, 'create', { title: 'from a process' });
    expect(created.status).toBe(200);
    // With Redis: the shared rate limit answers in headers, and Idempotency-Key makes a create run once.
    const idem = () =>
      fetch(`${notes.url}/trpc/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'create-once-0001', authorization: `Bearer ${token}` },
        body: JSON.stringify({ json: { title: 'once' } }),
      });
    const [once, again] = [await idem(), await idem()];
    expect(once.headers.get('ratelimit-limit')).toBe('600');
    expect(await once.text()).toBe(await again.text());
    const reader = new Redis(redis.url);
    const entries = (await reader.xrange('notes.events', '-', '+')) as Array<[string, string[]]>;
    reader.disconnect();
    await redis.stop();
    expect(entries).toHaveLength(2);
    expect(entries[0]![1]).toEqual(expect.arrayContaining(['type', 'notes.note.created']));
    expect(entries[0]![1].join(' ')).toContain(created.body.result!.data.json.id);
    notes.signal('SIGTERM');
    expect(await notes.exited).toBe(0);
    expect(notes.logLines().map((l) => l.msg)).toEqual(
      expect.arrayContaining(['draining: readiness now fails', 'notes stopped']),
    );
  });
});
