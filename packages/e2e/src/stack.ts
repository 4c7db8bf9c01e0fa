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
  pollUntil,
  startServiceMain,
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

/** What a process that lost a race for its port prints (Caddy and Prometheus, both Go). */
const PORT_TAKEN = /address already in use/;

/** A process that could not bind a port chosen for it up front (someone took it meanwhile). */
class PortTakenError extends Error {}

/**
 * Waits until `answers` holds for a process just spawned. Rejects with its output when it exits
 * first (with {@link PortTakenError} when a port it was given was taken) or does not answer in time.
 */
async function awaitAnswer(
  what: string,
  child: ChildProcess,
  answers: () => Promise<boolean>,
  options: { timeoutMs: number; output: () => string },
): Promise<void> {
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  let outcome: 'up' | 'exited';
  try {
    outcome = await pollUntil(what, async () => (gone() ? 'exited' : (await answers()) && 'up'), {
      timeoutMs: options.timeoutMs,
      intervalMs: 100,
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}:\n${options.output().slice(-4000)}`, { cause: err });
  }
  if (outcome === 'up') return;
  const output = options.output().slice(-4000);
  if (PORT_TAKEN.test(output)) throw new PortTakenError(`${what}: a port was taken:\n${output}`);
  throw new Error(`${what}: the process exited:\n${output}`);
}

/**
 * Runs `launch` with ports chosen up front, again with new ones when a port was taken between
 * choosing it and the process binding it (at most 5 times).
 */
async function withFreshPorts<T>(launch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch();
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === 5) throw err;
    }
  }
}

/**
 * Runs Caddy (the installed `caddy` binary) with a Caddyfile, every address on a free port. Caddy
 * binds ports it is given, so they are chosen up front: a start that lost a port is made again.
 */
export function startGateway(options: GatewayOptions): Promise<Gateway> {
  return withFreshPorts(() => launchGateway(options));
}

async function launchGateway(options: GatewayOptions): Promise<Gateway> {
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
  await awaitAnswer(`caddy answering on ${url}`, child, async () => (await fetch(`${url}/api/none`)).status === 404, {
    timeoutMs: 20_000,
    output: () => out,
  });
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

/**
 * The gateway's access log once it holds every request answered so far: Caddy writes an entry
 * after its response, so this sends one more request and waits for that one's entry.
 */
export async function settledAccessLog(gateway: Gateway): Promise<ReturnType<Gateway['accessLog']>> {
  const mark = `settled-${randomBytes(6).toString('hex')}`;
  await (await fetch(`${gateway.url}/api/none`, { headers: { 'x-test-mark': mark } })).arrayBuffer();
  const marked = (e: ReturnType<Gateway['accessLog']>[number]) => e.request.headers['X-Test-Mark']?.[0] === mark;
  await pollUntil('the access log entry of the last request', () => gateway.accessLog().some(marked));
  return gateway.accessLog().filter((e) => !marked(e));
}

/**
 * Starts `apps/<app>/src/main.ts` as a process (see `startServiceMain`).
 * @example const notes = await startService('notes', { DATABASE_URL: db.url, REDIS_URL: redis.url });
 */
export function startService(
  app: string,
  env: Record<string, string>,
  ports: { port: number; metricsPort: number } = { port: 0, metricsPort: 0 },
): Promise<SpawnedService> {
  return startServiceMain(join(REPO, 'apps', app), env, ports);
}

/**
 * Creates `count` test databases, prints once which kind they are, and holds them to
 * `TEST_DATABASE` when that is set.
 */
export async function createTestDatabases(count: number): Promise<TestDatabase[]> {
  const databases = await Promise.all(Array.from({ length: count }, () => createTestDatabase()));
  const kinds = [
    ...new Set(databases.map((db) => (db.kind === 'postgres' ? `postgres (server on ${new URL(db.url).host})` : 'pglite'))),
  ];
  // Test output, not a service's log: the run says which database it used.
  // eslint-disable-next-line no-console
  console.log(`database: ${kinds.join(', ')}`);
  const asked = process.env.TEST_DATABASE;
  if (asked) {
    const other = databases.filter((db) => db.kind !== asked);
    if (other.length > 0) {
      await Promise.all(databases.map((db) => db.drop().catch(() => undefined)));
      throw new Error(`TEST_DATABASE=${asked}, but ${other.length} of the databases are ${other[0]!.kind}`);
    }
  }
  return databases;
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
    const [authDb, notesDb, activityDb] = await createTestDatabases(3);
    databases.push(authDb!, notesDb!, activityDb!);

    const bindFailed = (err: unknown) => /EADDRINUSE/.test((err as Error).message);
    /** Starts a service process, again (at most 5 times) when it could not bind its port. */
    const startBinding = async (name: string, launch: () => Promise<SpawnedService>) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await launch();
        } catch (err) {
          if (attempt === 5 || !bindFailed(err)) throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
        }
      }
    };
    // Each process binds port 0 and says which ports it got; a restart asks for the same ones
    // (the gateway and the other services know the instance by them). A restart that finds its
    // port held for a moment (another socket's ephemeral port) starts again.
    const instance = async (
      name: string,
      env: (port: number) => Record<string, string>,
      /** Chooses the API port up front, for a service whose environment names its own address. */
      choosePort = false,
    ): Promise<Instance> => {
      const envOf = (port: number) => ({ REDIS_URL: redis.url, TRUSTED_PROXIES: '127.0.0.1', ...options.env, ...env(port) });
      const first = await startBinding(name, async () => {
        const port = choosePort ? await freePort() : 0;
        return startService(name, envOf(port), { port, metricsPort: 0 });
      });
      const ports = { port: first.port, metricsPort: first.metricsPort };
      const self: Instance = {
        name,
        ...ports,
        url: first.url,
        current: first,
        async restart() {
          self.current = await startBinding(name, () => startService(name, envOf(ports.port), ports));
          return self.current;
        },
      };
      all.push(self);
      return self;
    };

    const authKeySecret = randomBytes(32).toString('base64url');
    const auth = await instance('auth', () => ({
      DATABASE_URL: authDb!.url,
      AUTH_KEY_SECRET: authKeySecret,
      TRUSTED_SERVICE_KEYS: `notes=${serviceKey}`,
      COOKIE_SECURE: 'false',
      SCRYPT_COST: '1024',
    }));
    // Started together, as an orchestrator would: migrations wait on their advisory lock.
    const notes = await Promise.all(
      Array.from({ length: notesCount }, () =>
        instance('notes', () => ({
          DATABASE_URL: notesDb!.url,
          AUTH_URL: auth.url,
          SERVICE_KEY: serviceKey,
          INSTANCE_COUNT: String(notesCount),
        })),
      ),
    );
    // The status view reads every instance, its own included: activity starts once the others'
    // ports are known, on a port chosen for it.
    const activity = await instance(
      'activity',
      (port) => ({
        DATABASE_URL: activityDb!.url,
        AUTH_URL: auth.url,
        MESH_INSTANCES: [
          `auth=${auth.url}`,
          `notes=${notes.map((n) => n.url).join(',')}`,
          `activity=http://127.0.0.1:${port}`,
        ].join(';'),
      }),
      true,
    );
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
    instances.forEach((instance, i) =>
      byHost.set(service.instances > 1 ? `${service.name}-${i + 1}` : service.name, instance.metricsPort),
    );
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
  try {
    return await withFreshPorts(() => launchPrometheus(dir));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launchPrometheus(dir: string): Promise<{ prometheus: string; stopPrometheus: () => Promise<void> }> {
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
  await awaitAnswer('prometheus ready', child, async () => (await fetch(`${prometheus}/-/ready`)).ok, {
    timeoutMs: 30_000,
    output: () => out,
  });
  const stopPrometheus = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  return { prometheus, stopPrometheus };
}

/** Registers an account through the gateway and signs it in: its access token. */
export async function signUp(gatewayUrl: string, email: string, password: string): Promise<string> {
  const auth = createTRPCClient<AuthRouter>({
    links: [httpLink({ url: `${gatewayUrl}/api/auth/trpc`, transformer: superjson })],
  });
  await auth.register.mutate({ email, password });
  return (await auth.login.mutate({ email, password })).accessToken;
}
