import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, spawnService, startTestRedis, type SpawnedService, type TestRedis } from '@switchyard/infra/testing';
import { GENERATED_FILES } from '../gen/generate.js';
import { copyRepository, linkWorkspaces } from './repo-copy.js';

// `npm run new:service -- billing --db --calls auth` in a copy of the repository: it typechecks,
// the mesh runs it, a typed client reaches it through the gateway, it calls auth with its own
// credential, auth refuses it once mesh.json no longer lets it, and the deploy files take it in.
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
let copy = '';
let redis: TestRedis;
const runs: SpawnedService[] = [];

const run = (command: string, args: string[], env: Record<string, string> = {}) => {
  const result = spawnSync(command, args, { cwd: copy, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

/** Every file of the copy (outside node_modules and build output) and a digest of its content. */
async function snapshot(dir: string, out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (['node_modules', '.turbo', 'dist', '.data'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await snapshot(path, out);
    else if (entry.isFile())
      out.set(
        relative(copy, path),
        createHash('sha256')
          .update(await readFile(path))
          .digest('hex'),
      );
  }
  return out;
}

/** `npm run dev` in the copy (free ports, the web app not built), until the mesh is printed. */
async function runDev(...services: string[]) {
  const dev = await spawnService({
    command: ['npm', 'run', 'dev', '--', ...services],
    cwd: copy,
    group: true,
    service: 'auth',
    env: {
      DEV_PORTS: 'auto',
      DEV_DATA_ROOT: join(copy, '.data'),
      REDIS_URL: redis.url,
      WEB_ROOT: join(copy, '.data/web'),
      LOG_PRETTY: 'false',
    },
    startTimeoutMs: 120_000,
  });
  runs.push(dev);
  await pollUntil(
    'the mesh printed',
    () => dev.output().includes('dev: Ctrl-C stops everything.') || dev.child.exitCode !== null,
    {
      timeoutMs: 120_000,
      intervalMs: 200,
    },
  );
  expect(dev.output(), dev.output().slice(-4000)).toContain('dev: Ctrl-C stops everything.');
  const urlOf = (name: string) => new RegExp(`dev: +${name} +(http://127\\.0\\.0\\.1:\\d+)/trpc`).exec(dev.output())?.[1];
  return { dev, urlOf };
}

async function stopDev(dev: SpawnedService) {
  dev.signal('SIGINT');
  await dev.exited;
}

beforeAll(async () => {
  [copy, redis] = await Promise.all([copyRepository(REPO), startTestRedis()]);
}, 120_000);
afterAll(async () => {
  for (const dev of runs) {
    try {
      dev.signal('SIGKILL');
    } catch {
      // already gone
    }
  }
  await redis?.stop();
  if (copy) await rm(copy, { recursive: true, force: true });
});

describe('npm run new:service', () => {
  it('refuses a bad name or option with a message naming it, and writes nothing', async () => {
    const before = await snapshot(copy);
    const cases: Array<[string[], RegExp]> = [
      [['../x'], /service name must be a lower-case letter.*"\.\.\/x"/],
      [['My-svc'], /service name must be a lower-case letter.*"My-svc"/],
      [['notes'], /notes is already a service of mesh\.json/],
      [['web'], /apps\/web exists already/],
      [['billing', '--instances', '0'], /--instances must be 1 to 9/],
      [['billing', '--calls', 'nope'], /--calls: not services of mesh\.json: nope/],
      [['billing', '--color'], /unknown option --color/],
      [[], /usage: npm run new:service/],
    ];
    for (const [args, message] of cases) {
      const refused = run('node', ['--import', 'tsx', 'tooling/mesh/src/new-service/main.ts', ...args]);
      expect(refused.status, args.join(' ')).not.toBe(0);
      expect(refused.output, args.join(' ')).toMatch(message);
    }
    expect(await snapshot(copy)).toEqual(before);
  });

  it('adds billing: typed, running, reached through the gateway, calling auth only while mesh.json lets it', async () => {
    const before = await snapshot(copy);
    const created = run('npm', ['run', 'new:service', '--', 'billing', '--db', '--calls', 'auth']);
    expect(created.status, created.output).toBe(0);
    const after = await snapshot(copy);
    const changed = [...after].filter(([path, digest]) => before.get(path) !== digest).map(([path]) => path);
    const outside = changed.filter((p) => !p.startsWith('apps/billing/') && p !== 'packages/api-contracts/src/billing.ts').sort();
    process.stdout.write(`new:service changed outside apps/billing and its contract: ${outside.join(', ')}\n`);
    expect(outside).toEqual(['mesh.json', ...GENERATED_FILES].sort());
    expect([...before.keys()].filter((p) => !after.has(p))).toEqual([]);
    await linkWorkspaces(copy, REPO); // what `npm install` does for the new workspace

    // A program outside the mesh, typed from the contracts, checked with the rest.
    const program = 'examples/list-notes/src/billing-call.ts';
    await writeFile(
      join(copy, program),
      `import { createSwitchyardClient } from '@switchyard/client';
const [baseUrl, email, password] = process.argv.slice(2) as [string, string, string];
const client = createSwitchyardClient({ baseUrl });
await client.auth.register.mutate({ email, password });
await client.signIn(email, password);
const record = await client.billing.record.mutate({ label: 'first invoice' });
const hello = await client.billing.hello.query({});
process.stdout.write(JSON.stringify({ label: record.label, hello }) + '\\n');
`,
    );
    const typecheck = run('npx', [
      'turbo',
      'run',
      'typecheck',
      '--filter=@switchyard/billing',
      '--filter=@switchyard/client',
      '--filter=@switchyard/example-list-notes',
    ]);
    expect(typecheck.status, typecheck.output).toBe(0);

    // The deploy files take billing in.
    const prometheus = await readFile(join(copy, 'deploy/prometheus/prometheus.yml'), 'utf8');
    expect(prometheus).toContain("- targets: ['billing:9421']");
    const promtool = run('promtool', ['check', 'config', join(copy, 'deploy/prometheus/prometheus.yml')]);
    expect(promtool.status, promtool.output).toBe(0);
    const secrets = Object.fromEntries(
      [...(await readFile(join(copy, '.env.example'), 'utf8')).matchAll(/^([A-Z_]+)=$/gm)].map(([, name]) => [
        name!,
        `check-${name!.toLowerCase()}`,
      ]),
    );
    const compose = run('docker-compose', ['config'], secrets);
    expect(compose.status, compose.output).toBe(0);
    expect(compose.output).toMatch(/billing:[\s\S]*SERVICE: billing/);

    // The mesh with billing in it; a typed call through the gateway.
    const first = await runDev();
    const gateway = /dev: {3}gateway {3}(http:\/\/127\.0\.0\.1:\d+)\//.exec(first.dev.output())![1]!;
    await pollUntil(
      'the gateway routing to billing',
      async () => (await fetch(`${gateway}/api/billing/trpc/hello`)).status === 401,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    const call = run(process.execPath, [
      '--conditions=@switchyard/source',
      '--import',
      'tsx',
      program,
      gateway,
      'payer@example.com',
      'billing works 2026',
    ]);
    process.stdout.write(`billing through the gateway: ${call.output}`);
    expect(call.status, call.output).toBe(0);
    // The email comes from auth's getUser, which opens only to a service's verified credential.
    expect(JSON.parse(call.output.trim().split('\n').at(-1)!)).toMatchObject({
      label: 'first invoice',
      hello: { service: 'billing', email: 'payer@example.com', records: 1 },
    });
    await stopDev(first.dev);

    // Without auth among billing's calls, auth refuses billing's credential.
    const mesh = JSON.parse(await readFile(join(copy, 'mesh.json'), 'utf8')) as {
      services: Array<{ name: string; calls?: string[] }>;
    };
    mesh.services.find((s) => s.name === 'billing')!.calls = [];
    await writeFile(join(copy, 'mesh.json'), JSON.stringify(mesh, null, 2));
    expect(run('npm', ['run', 'gen']).status).toBe(0);
    const second = await runDev('auth');
    const input = encodeURIComponent(JSON.stringify({ json: { id: '00000000-0000-4000-8000-000000000000' } }));
    const refused = await fetch(`${second.urlOf('auth')}/trpc/getUser?input=${input}`, {
      headers: { 'x-service-credential': 'billing.dev-only-billing-service-key-0123456789' },
    });
    const body = (await refused.json()) as { error: { json: { message: string } } };
    process.stdout.write(`auth to billing, not listed: ${refused.status} ${body.error.json.message}\n`);
    expect(refused.status).toBe(403);
    expect(body.error.json.message).toBe(
      `Service "billing" may not call auth: mesh.json does not list auth among billing's calls`,
    );
    await stopDev(second.dev);
  }, 600_000);
});
