import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTES_EVENTS_STREAM, NoteCreated, NoteDeleted } from '@switchyard/api-contracts';
import { publishEvent } from '@switchyard/infra/events';
import { createRedisClient, type Redis } from '@switchyard/infra/redis';
import {
  createTestDatabase,
  spawnService,
  startTestRedis,
  startTestTokenIssuer,
  type TestTokenIssuer,
  type SpawnedService,
  type TestDatabase,
  type TestRedis,
} from '@switchyard/infra/testing';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

let db: TestDatabase;
let redis: TestRedis;
let client: Redis;
let pool: pg.Pool;
let issuer: TestTokenIssuer;
const spawned: SpawnedService[] = [];

beforeAll(async () => {
  [db, redis, issuer] = await Promise.all([createTestDatabase(), startTestRedis(), startTestTokenIssuer()]);
  client = createRedisClient({ url: redis.url, role: 'blocking', name: 'test-publisher' });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.signal('SIGKILL');
  await pool?.end();
  client?.disconnect();
  await redis?.stop();
  await db?.drop();
  await issuer?.close();
});

const startActivity = async () => {
  const s = await spawnService({
    command: [process.execPath, '--conditions=@switchyard/source', '--import', 'tsx', 'src/main.ts'],
    cwd: APP_DIR,
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      AUTH_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      CLAIM_IDLE_MS: '1000',
      DRAIN_DELAY_MS: '0',
    },
  });
  spawned.push(s);
  return s;
};

const countRows = async () => {
  try {
    return Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM activity')).rows[0]!.n);
  } catch {
    return 0; // The table is created by the service's migration.
  }
};

async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('activity consumes notes events', () => {
  it('killed in the middle of 1000 events and restarted: each event reaches the feed exactly once; a poison event is dead-lettered', async () => {
    const ownerId = randomUUID();
    const published: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i === 500) {
        // Poison: a known type whose payload breaks its contract.
        await client.xadd(
          NOTES_EVENTS_STREAM,
          '*',
          'id',
          randomUUID(),
          'type',
          'notes.note.created',
          'version',
          '1',
          'occurredAt',
          new Date().toISOString(),
          'payload',
          '{"json":{"noteId":"not-a-uuid"}}',
        );
      }
      const def = i % 10 === 9 ? NoteDeleted : NoteCreated;
      const payload =
        def === NoteDeleted ? { noteId: randomUUID(), ownerId } : { noteId: randomUUID(), ownerId, title: `note ${i}` };
      published.push(await publishEvent(client, def, payload as never));
    }

    const first = await startActivity();
    await waitFor(async () => (await countRows()) >= 150, 60_000, 'the first events');
    first.signal('SIGKILL');
    await first.exited;
    const atKill = await countRows();
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(1000);

    const second = await startActivity();
    await waitFor(async () => (await countRows()) >= 1000, 60_000, 'every event');
    // Give a redelivery the chance to (wrongly) add a duplicate.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const rows = await pool.query<{ event_id: string }>('SELECT event_id FROM activity');
    expect(rows.rows).toHaveLength(1000);
    expect(new Set(rows.rows.map((r) => r.event_id))).toEqual(new Set(published));

    const dead = (await client.xrange(`${NOTES_EVENTS_STREAM}.dead`, '-', '+')) as Array<[string, string[]]>;
    expect(dead).toHaveLength(1);
    expect(dead[0]![1].join(' ')).toContain('invalid event');

    // The feed serves it, newest first.
    const res = await fetch(`${second.url}/trpc/feed?input=${encodeURIComponent(JSON.stringify({ json: { limit: 3 } }))}`, {
      headers: { authorization: `Bearer ${await issuer.sign(ownerId)}` },
    });
    // Someone else's token sees none of it, and no token gets 401.
    const stranger = await fetch(`${second.url}/trpc/feed?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, {
      headers: { authorization: `Bearer ${await issuer.sign(randomUUID())}` },
    });
    expect(((await stranger.json()) as { result: { data: { json: { items: unknown[] } } } }).result.data.json.items).toEqual([]);
    expect((await fetch(`${second.url}/trpc/feed?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`)).status).toBe(401);
    const body = (await res.json()) as {
      result: { data: { json: { items: Array<{ title: string | null; type: string }>; nextCursor: string } } };
    };
    expect(body.result.data.json.items.map((i) => i.type)).toEqual(['note.deleted', 'note.created', 'note.created']);
    expect(body.result.data.json.items[1]?.title).toBe('note 998');
    expect(body.result.data.json.nextCursor).toEqual(expect.any(String));

    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);
});
