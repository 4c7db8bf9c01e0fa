import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, startTestRedis, type SpawnedService, type TestDatabase, type TestRedis } from '@switchyard/infra/testing';
import { createTestMeshEnv } from '@switchyard/mesh/test-env';
import { createTestDatabases, startService } from './services.js';

// A frozen Redis (SIGSTOP) under load on auth and one notes instance, each with its own Redis of
// this test. Every Redis user on the request path is exercised: the limits (every call), the
// author cache (`get`), event publishing (`create`), Idempotency-Key (`create` with a key) and the
// sign-in limits (`login`).

const meshEnv = createTestMeshEnv();
/** How long Redis stays frozen. */
const STALL_MS = 5_000;
/** After a process sees the stall, no call of it takes longer than this. */
const BOUND_MS = 300;

type Kind = 'list' | 'get' | 'create' | 'create-keyed' | 'login';
interface Call {
  kind: Kind;
  start: number;
  end: number;
  status: number;
  appCode?: string;
  message?: string;
  degraded: string | null;
}

let redis: TestRedis;
let databases: TestDatabase[] = [];
let auth: SpawnedService;
let notes: SpawnedService;
let token = '';
let noteId = '';

const clock = () => performance.timeOrigin + performance.now();

async function call(kind: Kind, base: string, path: string, input: unknown, headers: Record<string, string> = {}): Promise<Call> {
  const start = clock();
  const query = kind === 'list' || kind === 'get';
  const res = await fetch(
    query ? `${base}/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}` : `${base}/trpc/${path}`,
    query
      ? { headers }
      : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ json: input }) },
  );
  const body = (await res.json()) as { error?: { json: { message: string; data: { appCode: string } } } };
  return {
    kind,
    start,
    end: clock(),
    status: res.status,
    degraded: res.headers.get('x-ratelimit-degraded'),
    ...(body.error ? { appCode: body.error.json.data.appCode, message: body.error.json.message } : {}),
  };
}

const bearer = () => ({ authorization: `Bearer ${token}` });
/** One call on notes, each kind in turn. */
const notesCall = (n: number): Promise<Call> => {
  switch (n % 4) {
    case 0:
      return call('list', notes.url, 'list', { limit: 5 }, bearer());
    case 1:
      return call('get', notes.url, 'get', { id: noteId }, bearer());
    case 2:
      return call('create', notes.url, 'create', { title: `stall ${n}` }, bearer());
    default:
      return call('create-keyed', notes.url, 'create', { title: `keyed ${n}` }, { ...bearer(), 'idempotency-key': randomUUID() });
  }
};
/** A sign-in from its own address and account (no limit is reached by the test itself): 401 while Redis answers. */
const signIn = () =>
  call(
    'login',
    auth.url,
    'login',
    { email: `${randomUUID()}@example.test`, password: 'not the password' },
    {
      'x-forwarded-for': `198.51.100.${Math.floor(Math.random() * 250)}`,
    },
  );

const timeOf = (line: Record<string, unknown>) => Date.parse(line.time as string);
/** The time (epoch ms) of a process's first log line with `msg` after `since`. */
const loggedAt = (service: SpawnedService, msg: string, since: number) =>
  pollUntil(
    `${msg} in the log`,
    () =>
      service
        .logLines()
        .filter((l) => l.msg === msg && timeOf(l) >= since)
        .map(timeOf)[0],
    { timeoutMs: 10_000 },
  );
const metric = async (service: SpawnedService, pattern: RegExp) =>
  pattern.exec(await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text())?.[1];

beforeAll(async () => {
  [redis, databases] = await Promise.all([startTestRedis(), createTestDatabases(2)]);
  const common = { REDIS_URL: redis.url, TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_POINTS: '1000000' };
  auth = await startService('auth', {
    ...meshEnv.of('auth', {}),
    ...common,
    DATABASE_URL: databases[0]!.url,
    SCRYPT_COST: '1024',
  });
  notes = await startService('notes', {
    ...meshEnv.of('notes', { auth: [auth.url] }),
    ...common,
    DATABASE_URL: databases[1]!.url,
    INSTANCE_COUNT: '1',
  });
  const email = `${randomUUID()}@example.test`;
  const password = 'correct horse battery staple';
  await call('login', auth.url, 'register', { email, password });
  const login = await fetch(`${auth.url}/trpc/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { email, password } }),
  });
  token = ((await login.json()) as { result: { data: { json: { accessToken: string } } } }).result.data.json.accessToken;
  const created = await fetch(`${notes.url}/trpc/create`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: JSON.stringify({ json: { title: 'the one to get' } }),
  });
  noteId = ((await created.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id;
}, 120_000);

afterAll(async () => {
  for (const s of [notes, auth]) if (s && s.child.exitCode === null && s.child.signalCode === null) s.signal('SIGKILL');
  await redis?.stop();
  await Promise.all(databases.map((db) => db.drop()));
});

const UNHEALTHY = 'redis unhealthy: its users skip it until a probe succeeds';
const HEALTHY = 'redis healthy again: its users use it again';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slowest = (calls: Call[]) => Math.round(Math.max(0, ...calls.map((c) => c.end - c.start)));

describe('Redis frozen (SIGSTOP) for 5 s under load', () => {
  it('every call ends within 300 ms of its process seeing the stall; sign-in answers 503; Redis is used again after', async () => {
    const calls: Call[] = [];
    let stopping = false;
    let n = 0;
    const workers = Array.from({ length: 6 }, async () => {
      while (!stopping) calls.push(await notesCall(n++));
    });
    const signIns = (async () => {
      while (!stopping) {
        calls.push(await signIn());
        // The sign-ins' pace, not a wait for a state.
        await sleep(25);
      }
    })();
    const after = (t: number) => calls.filter((c) => c.start >= t);
    try {
      const loadedAt = clock();
      await pollUntil('calls under load', () => after(loadedAt).length >= 300, { timeoutMs: 20_000 });

      const stalledAt = clock();
      redis.pause();
      const [notesSaw, authSaw] = await Promise.all([
        loggedAt(notes, UNHEALTHY, stalledAt),
        loggedAt(auth, UNHEALTHY, stalledAt),
      ]);
      expect(await metric(notes, /switchyard_redis_healthy\{connection="notes-request"[^}]*\} (\d)/)).toBe('0');
      // The stall's length is the scenario: Redis stays frozen this long under the load.
      await sleep(stalledAt + STALL_MS - clock());
      const resumedAt = clock();
      redis.resume();
      const [notesBack, authBack] = await Promise.all([loggedAt(notes, HEALTHY, resumedAt), loggedAt(auth, HEALTHY, resumedAt)]);
      // Used again: the limiter decides in Redis (no degraded header) and sign-in checks passwords.
      await pollUntil('a notes call limited in Redis', () =>
        calls.some((c) => c.start > notesBack && c.kind !== 'login' && c.status === 200 && c.degraded === null),
      );
      await pollUntil('a sign-in answered 401', () =>
        calls.some((c) => c.start > authBack && c.kind === 'login' && c.status === 401),
      );
      const endedAt = clock();

      stopping = true;
      await Promise.all([...workers, signIns]);
      const [ofNotes, ofAuth] = [calls.filter((c) => c.kind !== 'login'), calls.filter((c) => c.kind === 'login')];
      // How long after its process saw the stall each call ended (0 for a call that ended before).
      const late = (list: Call[], saw: number) => list.map((c) => ({ c, ms: Math.round(c.end - Math.max(c.start, saw)) }));
      const worst = (list: Call[], saw: number) =>
        late(list, saw).reduce((a, b) => (b.ms > a.ms ? b : a), { c: list[0]!, ms: 0 });
      const inStall = (list: Call[], saw: number) => list.filter((c) => c.start >= saw && c.end <= resumedAt);
      const byKind = (list: Call[]) => {
        const counts = new Map<string, number>();
        for (const c of list) {
          const k = `${c.kind} ${c.status}${c.appCode ? ` ${c.appCode}` : ''}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        return [...counts].map(([k, v]) => `${k}: ${v}`);
      };
      const stallNotes = inStall(ofNotes, notesSaw);
      const stallAuth = inStall(ofAuth, authSaw);
      console.log(
        [
          `seen stalled: notes ${Math.round(notesSaw - stalledAt)} ms, auth ${Math.round(authSaw - stalledAt)} ms after SIGSTOP`,
          `healthy again: notes ${Math.round(notesBack - resumedAt)} ms, auth ${Math.round(authBack - resumedAt)} ms after SIGCONT`,
          `slowest call before the stall: notes ${slowest(ofNotes.filter((c) => c.end < stalledAt))} ms, auth ${slowest(ofAuth.filter((c) => c.end < stalledAt))} ms`,
          `latest end after the stall was seen: notes ${worst(ofNotes, notesSaw).ms} ms (${worst(ofNotes, notesSaw).c.kind}), auth ${worst(ofAuth, authSaw).ms} ms`,
          `slowest call started in the stall: notes ${slowest(stallNotes)} ms, auth ${slowest(stallAuth)} ms`,
          `calls in the stall (${Math.round((resumedAt - notesSaw) / 1000)} s): ${byKind([...stallNotes, ...stallAuth]).join(', ')}`,
          `calls in all: ${calls.length} in ${Math.round((endedAt - loadedAt) / 1000)} s`,
        ].join('\n'),
      );

      for (const [list, saw] of [
        [ofNotes, notesSaw],
        [ofAuth, authSaw],
      ] as const) {
        const over = late(list, saw).filter((l) => l.ms > BOUND_MS);
        expect(over.map((l) => `${l.c.kind} ${l.c.status} ${l.ms} ms`)).toEqual([]);
      }
      // Each Redis user in its degraded mode.
      expect(stallNotes.length).toBeGreaterThan(100);
      for (const c of stallNotes) {
        expect(c.degraded, `${c.kind} limited per instance`).toBe('open');
        if (c.kind === 'create-keyed') expect([c.status, c.appCode]).toEqual([503, 'UNAVAILABLE']);
        else expect([c.kind, c.status]).toEqual([c.kind, 200]);
      }
      expect(stallAuth.length).toBeGreaterThan(20);
      for (const c of stallAuth) {
        expect([c.status, c.appCode, c.message]).toEqual([
          503,
          'UNAVAILABLE',
          'Sign-in is unavailable right now; try again shortly',
        ]);
      }
      // One transition each way, in the log and the metrics.
      for (const service of [notes, auth]) {
        const lines = service.logLines().filter((l) => timeOf(l) >= stalledAt);
        expect([lines.filter((l) => l.msg === UNHEALTHY).length, lines.filter((l) => l.msg === HEALTHY).length]).toEqual([1, 1]);
      }
      expect(await metric(notes, /switchyard_redis_healthy\{connection="notes-request"[^}]*\} (\d)/)).toBe('1');
      expect(
        Number(await metric(notes, /switchyard_redis_skipped_total\{connection="notes-request",user="publish"[^}]*\} (\d+)/)),
      ).toBeGreaterThan(0);
      expect(Number(await metric(notes, /switchyard_events_unpublished_total\{event="[^"]+"[^}]*\} (\d+)/))).toBeGreaterThan(0);
    } finally {
      stopping = true;
      await Promise.all([...workers, signIns]);
    }
  }, 90_000);
});
