import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTES_EVENTS_STREAM, NoteCreated, NoteDeleted } from '@switchyard/api-contracts';
import { publishEvent } from '@switchyard/infra/events';
import { createRedisClient, type Redis } from '@switchyard/infra/redis';
import {
  createTestDatabase,
  pollUntil,
  startServiceMain,
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
  const s = await startServiceMain(APP_DIR, {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    AUTH_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
    CLAIM_IDLE_MS: '1000',
    DRAIN_DELAY_MS: '0',
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

/**
 * Whether the activity group has nothing left to (re)deliver: every entry of the stream delivered
 * to it, and none pending (a pending entry is one a redelivery could still add twice).
 */
async function settled(): Promise<boolean> {
  const [last] = (await client.xrevrange(NOTES_EVENTS_STREAM, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  const groups = (await client.xinfo('GROUPS', NOTES_EVENTS_STREAM)) as Array<Array<string | number>>;
  const group = groups
    .map((fields) => Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]]))))
    .find((g) => g.name === 'activity');
  return group?.pending === 0 && group['last-delivered-id'] === last?.[0];
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
    await pollUntil('the first events in the feed', async () => (await countRows()) >= 150, { timeoutMs: 60_000 });
    first.signal('SIGKILL');
    await first.exited;
    const atKill = await countRows();
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(1000);

    const second = await startActivity();
    await pollUntil('every event in the feed', async () => (await countRows()) >= 1000, { timeoutMs: 60_000 });
    // Once nothing is left to redeliver, no duplicate can still come.
    await pollUntil('the activity group settled (all delivered, none pending)', settled, { timeoutMs: 30_000 });
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
