import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AuthRouter } from '@switchyard/api-contracts';
import {
  createTestDatabase,
  freePort,
  spawnService,
  startTestRedis,
  type SpawnedService,
  type TestDatabase,
  type TestRedis,
} from '@switchyard/infra/testing';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CADDYFILE = join(REPO, 'Caddyfile');

/** The one list of the mesh (mesh.json). */
export interface MeshList {
  gateway: { port: number; metricsPort: number };
  web: { root: string };
  services: Array<{ name: string; instances: number; port: number; metricsPort: number }>;
}

export async function readMeshList(): Promise<MeshList> {
  return JSON.parse(await readFile(join(REPO, 'mesh.json'), 'utf8')) as MeshList;
}

/** A Caddy process started by a test. */
export interface Gateway {
  readonly child: ChildProcess;
  readonly url: string;
  readonly metricsUrl: string;
  output(): string;
  /** Caddy's JSON access-log entries so far. */
  accessLog(): Array<{ status: number; request: { uri: string; method: string; headers: Record<string, string[]> } }>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  caddyfile?: string;
  upstreams: Record<string, string[]>;
  corsOrigins: string[];
  webRoot: string;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, output: () => string) {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`${what} within ${timeoutMs} ms:\n${output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs Caddy (the installed `caddy` binary) with a Caddyfile, every address on a free port. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const [port, metricsPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    XDG_DATA_HOME: join(tmpdir(), 'switchyard-caddy-data'),
    XDG_CONFIG_HOME: join(tmpdir(), 'switchyard-caddy-config'),
    GATEWAY_SITE: `:${port}`,
    GATEWAY_METRICS_PORT: String(metricsPort),
    CADDY_ADMIN: `127.0.0.1:${adminPort}`,
    CORS_ORIGINS: options.corsOrigins.join(' '),
    WEB_ROOT: options.webRoot,
  };
  for (const [service, list] of Object.entries(options.upstreams)) env[`${service.toUpperCase()}_UPSTREAMS`] = list.join(' ');
  const child = spawn('caddy', ['run', '--adapter', 'caddyfile', '--config', options.caddyfile ?? CADDYFILE], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('caddy did not answer', async () => (await fetch(`${url}/api/none`)).status === 404, 20_000, () => out);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    output: () => out,
    accessLog: () =>
      out
        .split('\n')
        .filter((line) => line.includes('"logger":"http.log.access'))
        .map((line) => JSON.parse(line) as ReturnType<Gateway['accessLog']>[number]),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One service process of the stack, restartable on the same ports. */
export interface Instance {
  readonly name: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly url: string;
  current: SpawnedService;
  restart(): Promise<SpawnedService>;
}

/** The whole mesh on free ports: Redis, PostgreSQL, auth, 3 notes, activity, Caddy. */
export interface Stack {
  readonly redis: TestRedis;
  readonly gateway: Gateway;
  readonly auth: Instance;
  readonly notes: Instance[];
  readonly activity: Instance;
  readonly instances: Instance[];
  readonly webRoot: string;
  /** A directory of the stack's own, removed with it. */
  readonly scratch: string;
  /** Another Caddy over the same instances (for a variant of the Caddyfile). */
  startGateway(caddyfile?: string): Promise<Gateway>;
  stop(): Promise<void>;
}

export interface StackOptions {
  corsOrigins?: string[];
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** The web app Caddy serves at `/` (a built apps/web); else a placeholder page. */
  webRoot?: string;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const mesh = await readMeshList();
  const notesCount = mesh.services.find((s) => s.name === 'notes')?.instances ?? 3;
  const serviceKey = randomBytes(24).toString('base64url');
  const placeholder = await mkdtemp(join(tmpdir(), 'switchyard-web-'));
  await writeFile(join(placeholder, 'index.html'), '<!doctype html><title>Switchyard</title><h1>Switchyard</h1>\n');
  const webRoot = options.webRoot ?? placeholder;
  const databases: TestDatabase[] = [];
  const redis = await startTestRedis();
  const cleanups: Array<() => Promise<unknown>> = [() => redis.stop(), () => rm(placeholder, { recursive: true, force: true })];
  const all: Instance[] = [];
  const stopAll = async () => {
    for (const instance of all) {
      const { child } = instance.current;
      if (child.exitCode === null && child.signalCode === null) instance.current.signal('SIGKILL');
    }
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await Promise.all(databases.map((db) => db.drop().catch(() => undefined)));
  };

  try {
    const [authDb, notesDb, activityDb] = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
    databases.push(authDb, notesDb, activityDb);

    const instance = async (
      name: string,
      env: Record<string, string>,
      ports?: { port: number; metricsPort: number },
    ): Promise<Instance> => {
      const { port, metricsPort } = ports ?? { port: await freePort(), metricsPort: await freePort() };
      const run = () =>
        spawnService({
          command: [process.execPath, '--conditions=@switchyard/source', '--import', 'tsx', 'src/main.ts'],
          cwd: join(REPO, 'apps', name),
          env: {
            HOST: '127.0.0.1',
            PORT: String(port),
            METRICS_PORT: String(metricsPort),
            REDIS_URL: redis.url,
            TRUSTED_PROXIES: '127.0.0.1',
            ...options.env,
            ...env,
          },
        });
      const first = await run();
      const self: Instance = {
        name,
        port,
        metricsPort,
        url: `http://127.0.0.1:${port}`,
        current: first,
        async restart() {
          self.current = await run();
          return self.current;
        },
      };
      all.push(self);
      return self;
    };

    const auth = await instance('auth', {
      DATABASE_URL: authDb.url,
      AUTH_KEY_SECRET: randomBytes(32).toString('base64url'),
      TRUSTED_SERVICE_KEYS: `notes=${serviceKey}`,
      COOKIE_SECURE: 'false',
      SCRYPT_COST: '1024',
    });
    const portsOf = async () => ({ port: await freePort(), metricsPort: await freePort() });
    const notesPorts = await Promise.all(Array.from({ length: notesCount }, portsOf));
    const activityPorts = await portsOf();
    const meshInstances = [
      `auth=${auth.url}`,
      `notes=${notesPorts.map((p) => `http://127.0.0.1:${p.port}`).join(',')}`,
      `activity=http://127.0.0.1:${activityPorts.port}`,
    ].join(';');
    // Started together, as an orchestrator would: migrations wait on their advisory lock.
    const [activity, ...notes] = await Promise.all([
      instance('activity', { DATABASE_URL: activityDb.url, AUTH_URL: auth.url, MESH_INSTANCES: meshInstances }, activityPorts),
      ...notesPorts.map((ports) =>
        instance(
          'notes',
          { DATABASE_URL: notesDb.url, AUTH_URL: auth.url, SERVICE_KEY: serviceKey, INSTANCE_COUNT: String(notesCount) },
          ports,
        ),
      ),
    ]);

    const corsOrigins = options.corsOrigins ?? ['https://app.example.test'];
    const upstreams = {
      auth: [`127.0.0.1:${auth.port}`],
      notes: notes.map((n) => `127.0.0.1:${n.port}`),
      activity: [`127.0.0.1:${activity.port}`],
    };
    const gateways: Gateway[] = [];
    const gatewayOf = async (caddyfile?: string) => {
      const gateway = await startGateway({ caddyfile, upstreams, corsOrigins, webRoot });
      gateways.push(gateway);
      return gateway;
    };
    cleanups.push(async () => Promise.all(gateways.map((g) => g.stop())));
    const gateway = await gatewayOf();
    return {
      redis,
      gateway,
      auth,
      notes,
      activity,
      instances: all,
      webRoot,
      scratch: placeholder,
      startGateway: gatewayOf,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Runs the `prometheus` binary with deploy/prometheus/prometheus.yml, its compose targets
 * (`notes-2:9412`, `caddy:2020`) mapped to the stack's ports, scraping every second.
 */
export async function startPrometheus(stack: Stack): Promise<{ prometheus: string; stopPrometheus: () => Promise<void> }> {
  const mesh = await readMeshList();
  const config = parse(await readFile(join(REPO, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const byHost = new Map<string, number>();
  for (const service of mesh.services) {
    const instances = stack.instances.filter((i) => i.name === service.name);
    instances.forEach((instance, i) => byHost.set(service.instances > 1 ? `${service.name}-${i + 1}` : service.name, instance.metricsPort));
  }
  byHost.set('caddy', Number(new URL(stack.gateway.metricsUrl).port));
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = config.rule_files.map((f) => join(REPO, 'deploy/prometheus', f));
  for (const job of config.scrape_configs) {
    for (const group of job.static_configs) {
      group.targets = group.targets.map((target) => {
        const port = byHost.get(target.split(':')[0]!);
        if (!port) throw new Error(`no running instance for the target ${target}`);
        return `127.0.0.1:${port}`;
      });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-prometheus-'));
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const prometheus = `http://127.0.0.1:${port}`;
  const stopPrometheus = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('prometheus did not become ready', async () => (await fetch(`${prometheus}/-/ready`)).ok, 30_000, () => out);
  } catch (err) {
    child.kill('SIGKILL');
    await stopPrometheus();
    throw err;
  }
  return { prometheus, stopPrometheus };
}

/** Registers an account through the gateway and signs it in: its access token. */
export async function signUp(gatewayUrl: string, email: string, password: string): Promise<string> {
  const auth = createTRPCClient<AuthRouter>({ links: [httpLink({ url: `${gatewayUrl}/api/auth/trpc`, transformer: superjson })] });
  await auth.register.mutate({ email, password });
  return (await auth.login.mutate({ email, password })).accessToken;
}
