import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, startTestRedis, type SpawnedService, type TestDatabase, type TestRedis } from '@switchyard/infra/testing';
import { createTestMeshEnv } from '@switchyard/mesh/test-env';
import { createTestDatabases, startService } from './services.js';

const meshEnv = createTestMeshEnv();

let redis: TestRedis;
let authDb: TestDatabase;
let notesDb: TestDatabase;
let auth: SpawnedService;
const notes: SpawnedService[] = [];

const start = (app: string, env: Record<string, string>) =>
  startService(app, { DRAIN_DELAY_MS: '0', REDIS_URL: redis.url, ...env });

beforeAll(async () => {
  let databases: TestDatabase[];
  [redis, databases] = await Promise.all([startTestRedis(), createTestDatabases(2)]);
  [authDb, notesDb] = databases as [TestDatabase, TestDatabase];
  auth = await start('auth', { ...meshEnv.of('auth', {}), DATABASE_URL: authDb.url });
  const notesEnv = { ...meshEnv.of('notes', { auth: [auth.url] }), DATABASE_URL: notesDb.url, INSTANCE_COUNT: '3' };
  notes.push(...(await Promise.all([1, 2, 3].map(() => start('notes', notesEnv)))));
}, 120_000);

afterAll(async () => {
  for (const s of [...notes, auth]) if (s && s.child.exitCode === null && s.child.signalCode === null) s.signal('SIGKILL');
  await redis?.stop();
  await Promise.all([authDb?.drop(), notesDb?.drop()]);
});

type Body = {
  result?: { data: { json: Record<string, unknown> } };
  error?: { json: { message: string; data: { appCode: string } } };
};

async function rpc(base: string, path: string, input: unknown, token?: string, method: 'POST' | 'GET' = 'POST') {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res =
    method === 'POST'
      ? await fetch(`${base}/trpc/${path}`, {
          method,
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ json: input }),
        })
      : await fetch(`${base}/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers });
  return { status: res.status, body: (await res.json()) as Body };
}
const data = <T>(r: { body: Body }) => r.body.result!.data.json as T;
type Tokens = { accessToken: string; refreshToken: string };

describe('the whole flow over real HTTP: auth + 3 notes instances', () => {
  it('register, login, call notes, refresh, reuse an old refresh token, logout everywhere', async () => {
    const credentials = { email: 'grace@example.com', password: 'nanoseconds 1906' };
    expect((await rpc(auth.url, 'register', credentials)).status).toBe(200);
    const login = data<Tokens>(await rpc(auth.url, 'login', credentials));

    // Notes: the owner is the signed-in user; the author comes from auth's internal getUser.
    const created = await rpc(notes[0]!.url, 'create', { title: 'Compilers' }, login.accessToken);
    expect(created.status).toBe(200);
    const { id } = data<{ id: string }>(created);
    for (const instance of notes) {
      const got = await rpc(instance.url, 'get', { id }, login.accessToken, 'GET');
      expect(got.status).toBe(200);
      expect(data<{ author: { email: string } }>(got).author).toMatchObject({ email: 'grace@example.com' });
    }
    // Auth's getUser is internal: a user's token does not open it.
    expect(
      (await rpc(auth.url, 'getUser', { id: data<{ ownerId: string }>(created).ownerId }, login.accessToken, 'GET')).status,
    ).toBe(403);
    // Another user sees nothing of it.
    await rpc(auth.url, 'register', { email: 'mal@example.com', password: 'not grace 2024' });
    const mal = data<Tokens>(await rpc(auth.url, 'login', { email: 'mal@example.com', password: 'not grace 2024' }));
    expect((await rpc(notes[1]!.url, 'get', { id }, mal.accessToken, 'GET')).status).toBe(404);

    // Refresh; the old refresh token presented again at once (another tab) gets the same successor.
    // Once the family has moved on past that successor, the old token is refused and the newest
    // works. (Reuse after the grace period, which revokes the family, is apps/auth's test.)
    const refreshed = data<Tokens>(await rpc(auth.url, 'refresh', { refreshToken: login.refreshToken }));
    const again = data<Tokens>(await rpc(auth.url, 'refresh', { refreshToken: login.refreshToken }));
    expect(again.refreshToken).toBe(refreshed.refreshToken);
    const newest = data<Tokens>(await rpc(auth.url, 'refresh', { refreshToken: refreshed.refreshToken }));
    expect((await rpc(auth.url, 'refresh', { refreshToken: login.refreshToken })).status).toBe(401);
    expect((await rpc(auth.url, 'refresh', { refreshToken: newest.refreshToken })).status).toBe(200);

    // Logout everywhere: a still-valid access token is refused by every notes instance. The
    // revocation travels over Redis pub/sub in milliseconds; 5 s leaves room for a loaded 2-core
    // machine, and an instance that missed it (it would learn only on a restart) still fails.
    const session = data<Tokens>(await rpc(auth.url, 'login', credentials));
    const { iat } = JSON.parse(Buffer.from(session.accessToken.split('.')[1]!, 'base64url').toString()) as { iat: number };
    // `iat` has whole seconds: a revocation from the next second on is strictly later than the token.
    await pollUntil('the second after the token was issued', () => Date.now() >= (iat + 1) * 1000, { timeoutMs: 5_000 });
    for (const instance of notes) expect((await rpc(instance.url, 'list', {}, session.accessToken, 'GET')).status).toBe(200);
    expect((await rpc(auth.url, 'logoutEverywhere', {}, session.accessToken)).status).toBe(200);
    await pollUntil(
      'the access token refused by every notes instance',
      async () =>
        (await Promise.all(notes.map(async (n) => (await rpc(n.url, 'list', {}, session.accessToken, 'GET')).status))).every(
          (s) => s === 401,
        ),
      { timeoutMs: 5_000 },
    );

    // No password, hash or token in any process's log.
    const logs = [auth, ...notes].map((s) => s.output()).join('\n');
    expect(logs).not.toContain(credentials.password);
    expect(logs).not.toContain('scrypt$');
    expect(logs).not.toContain(session.accessToken.split('.')[2]!);
    expect(logs).not.toMatch(/rt1\.[0-9a-f-]{36}/);
    for (const secret of Object.values(meshEnv.secrets)) expect(logs).not.toContain(secret);
  }, 60_000);
});
