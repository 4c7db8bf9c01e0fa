import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, spawnService, startTestRedis, type SpawnedService, type TestRedis } from '@switchyard/infra/testing';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const INSTANCES = ['auth', 'notes-1', 'notes-2', 'notes-3', 'activity'];

let dataRoot: string;
let redis: TestRedis;
const runs: SpawnedService[] = [];

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'switchyard-dev-'));
  redis = await startTestRedis();
});
afterEach(() => {
  for (const run of runs.splice(0)) {
    // turbo runs the runner in a process group of its own: kill that one too.
    const group = /dev: runner pid \d+, process group (\d+)/.exec(run.output())?.[1];
    if (group) {
      try {
        process.kill(-Number(group), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGKILL');
  }
});
afterAll(async () => {
  await redis?.stop();
  await rm(dataRoot, { recursive: true, force: true });
});

/** `npm run dev` with free ports, until it printed the mesh and every instance listens. */
async function runDev(env: Record<string, string> = {}) {
  const dev = await spawnService({
    command: ['npm', 'run', 'dev'],
    cwd: REPO,
    group: true,
    service: 'activity',
    // No *_DATABASE_URL: embedded databases, whatever servers this machine has.
    env: { DEV_PORTS: 'auto', DEV_DATA_ROOT: dataRoot, REDIS_URL: redis.url, DRAIN_DELAY_MS: '300', LOG_PRETTY: 'false', ...env },
    startTimeoutMs: 120_000,
  });
  runs.push(dev);
  const listening = () =>
    INSTANCES.every((name) => new RegExp(`(^|: )${name}\\s*\\|.*"msg":"[a-z]+ listening"`, 'm').test(dev.output()));
  try {
    await pollUntil(
      'the mesh printed and every instance listening',
      () => dev.output().includes('dev: Ctrl-C stops everything.') && listening(),
      {
        timeoutMs: 90_000,
        intervalMs: 100,
      },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${dev.output().slice(-5000)}`, { cause: err });
  }
  const gateway = /dev: {3}gateway {3}(http:\/\/127\.0\.0\.1:\d+)\//.exec(dev.output())![1]!;
  // Caddy routes to notes once its first active health checks passed: then a call without a token gets 401.
  await pollUntil('the gateway routing to notes', async () => (await fetch(`${gateway}/api/notes/trpc/list`)).status === 401, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  return { dev, gateway };
}

async function rpc(gateway: string, path: string, input: unknown, token?: string) {
  const res = await fetch(`${gateway}/api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ json: input }),
  });
  return { status: res.status, body: (await res.json()) as { result?: { data: { json: Record<string, unknown> } } } };
}

describe('npm run dev', () => {
  it('runs the whole mesh behind Caddy on embedded databases, keeps data across a restart, and Ctrl-C stops every process cleanly', async () => {
    const first = await runDev();
    const out = first.dev.output();
    for (const service of ['AUTH', 'NOTES', 'ACTIVITY']) {
      expect(out).toContain(`${service}_DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)`);
    }
    const credentials = { email: 'dev@example.com', password: 'developer 2026' };
    expect((await rpc(first.gateway, 'auth/trpc/register', credentials)).status).toBe(200);
    const login = await rpc(first.gateway, 'auth/trpc/login', credentials);
    const token = login.body.result!.data.json.accessToken as string;
    const created = await rpc(first.gateway, 'notes/trpc/create', { title: 'survives restarts' }, token);
    expect(created.status).toBe(200);
    const id = created.body.result!.data.json.id as string;

    // The web app at / (built by the runner), and the example program against this mesh.
    const home = await fetch(`${first.gateway}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toMatch(/<title>Switchyard<\/title>[\s\S]*<script type="module"/);
    const example = spawnSync(
      'npm',
      ['start', '--silent', '-w', 'examples/list-notes', '--', credentials.email, credentials.password],
      {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, SWITCHYARD_URL: first.gateway },
        timeout: 60_000,
      },
    );
    expect(example.status, `${example.stdout}${example.stderr}`).toBe(0);
    expect(example.stdout).toContain('1 note(s) for dev@example.com, newest: "survives restarts"');
    // The 3 notes instances share one database: each of them finds the note (once Caddy's health
    // checks have seen it up).
    const servedGet = (name: string) => new RegExp(`(^|: )${name}\\s*\\|.*"procedure":"get"`, 'm').test(first.dev.output());
    const statuses = new Set<number>();
    await pollUntil(
      'every notes instance serving a get of the note',
      async () => {
        const res = await fetch(
          `${first.gateway}/api/notes/trpc/get?input=${encodeURIComponent(JSON.stringify({ json: { id } }))}`,
          {
            headers: { authorization: `Bearer ${token}` },
          },
        );
        statuses.add(res.status);
        return ['notes-1', 'notes-2', 'notes-3'].every(servedGet);
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    ).catch(() => undefined); // the assertions below say which instance did not serve it
    expect([...statuses]).toEqual([200]);
    for (const name of ['notes-1', 'notes-2', 'notes-3']) expect(servedGet(name), name).toBe(true);

    first.dev.signal('SIGINT'); // Ctrl-C: the whole process group
    // npm re-raises the signal its script ended with; the runner itself exits 0.
    expect([0, 'SIGINT']).toContain(await first.dev.exited);
    expect(first.dev.output()).not.toMatch(/dev: .* exited \(/);
    const pids = [...first.dev.output().matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1]));
    expect(new Set(pids).size).toBe(INSTANCES.length);
    for (const pid of new Set(pids)) expect(() => process.kill(pid, 0), `pid ${pid} still runs`).toThrow();
    for (const name of INSTANCES) {
      expect(new RegExp(`(^|: )${name}\\s*\\|.*"clean":true,"msg":"[a-z]+ stopped"`, 'm').test(first.dev.output()), name).toBe(
        true,
      );
    }

    const second = await runDev();
    const fetched = await fetch(
      `${second.gateway}/api/notes/trpc/get?input=${encodeURIComponent(JSON.stringify({ json: { id } }))}`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    expect(fetched.status).toBe(200);
    // The note, and its author from auth (whose account and signing key survived too).
    expect(((await fetched.json()) as { result: { data: { json: unknown } } }).result.data.json).toMatchObject({
      id,
      title: 'survives restarts',
      author: { email: 'dev@example.com' },
    });
    second.dev.signal('SIGINT');
    expect([0, 'SIGINT']).toContain(await second.dev.exited);
  }, 300_000);

  it('keeps serving through the other notes instances while one is killed, and has it back within 5 s', async () => {
    // As many queries as the instances answer: no rate limit in the way.
    const { dev, gateway } = await runDev({ RATE_LIMIT_POINTS: '1000000' });
    const credentials = { email: 'crash@example.com', password: 'developer 2026' };
    await rpc(gateway, 'auth/trpc/register', credentials);
    const token = (await rpc(gateway, 'auth/trpc/login', credentials)).body.result!.data.json.accessToken as string;
    const list = `${gateway}/api/notes/trpc/list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`;
    const calls: Array<{ startedAt: number; status: number }> = [];
    let loading = true;
    const worker = async () => {
      while (loading) {
        const startedAt = performance.now();
        const status = await fetch(list, { headers: { authorization: `Bearer ${token}` } }).then(
          (res) => (void res.body?.cancel(), res.status),
          () => 0,
        );
        calls.push({ startedAt, status });
        // Each worker's pace (about 2 x 50 queries a second): a developer's traffic, which leaves
        // the 2 cores room for the restart being measured.
        await new Promise((done) => setTimeout(done, 20));
      }
    };
    const workers = Array.from({ length: 2 }, worker);
    await new Promise((done) => setTimeout(done, 1_000));
    const pid = Number(/(?:^|: )notes-2\s*\|.*"pid":(\d+)/m.exec(dev.output())![1]);
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await pollUntil('notes-2 back', () => /dev: notes-2 is back/.test(dev.output()), { timeoutMs: 10_000, intervalMs: 20 });
    const backMs = performance.now() - killedAt;
    await new Promise((done) => setTimeout(done, 2_000));
    loading = false;
    await Promise.all(workers);
    const failed = calls.filter((c) => c.status !== 200);
    const statuses: Record<number, number> = {};
    for (const c of calls) statuses[c.status] = (statuses[c.status] ?? 0) + 1;
    const failedAfterKill = failed.filter((c) => c.startedAt > killedAt);
    process.stdout.write(
      `SIGKILL notes-2: back after ${Math.round(backMs)} ms; ${calls.length} queries, ${failed.length} failed ` +
        `(${failed.length - failedAfterKill.length} in flight at the kill, ${failedAfterKill.length} started after it; ` +
        `statuses ${JSON.stringify(statuses)})\n`,
    );
    expect(backMs).toBeLessThan(5_000);
    expect(failedAfterKill).toEqual([]);
    expect(calls.filter((c) => c.startedAt > killedAt && c.status === 200).length).toBeGreaterThan(20);
    dev.signal('SIGINT');
    await dev.exited;
  }, 300_000);

  it('names a service that fails to start, with its last lines, and stops', async () => {
    // `npm run dev -- auth`: auth alone; a secret too short for it makes it exit at start.
    const dev = spawnSync('npm', ['run', 'dev', '--', 'auth'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 90_000,
      env: {
        ...process.env,
        TURBO_TELEMETRY_DISABLED: '1',
        DEV_PORTS: 'auto',
        DEV_DATA_ROOT: dataRoot,
        REDIS_URL: redis.url,
        WEB_ROOT: dataRoot,
        AUTH_KEY_SECRET: 'short',
      },
    });
    const output = `${dev.stdout}${dev.stderr}`;
    expect(output).toContain('dev: auth failed to start: stopping the mesh');
    expect(dev.status, output).not.toBe(0);
    expect(output).toMatch(/dev: auth failed to start \(1\); its last lines:\n.*auth +! .*AUTH_KEY_SECRET/);
    expect(output).toContain('dev: auth and what it reaches: auth');
  }, 120_000);
});
