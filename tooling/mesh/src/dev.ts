// `npm run dev`: the whole mesh of mesh.json on this machine, in one process tree.
//   databases  <NAME>_DATABASE_URL per service, else an embedded PostgreSQL (PGlite) per service in
//              DEV_DATA_ROOT/<name> (shared by that service's instances), kept across runs
//   Redis      REDIS_URL, else the Redis on 127.0.0.1:6379, else a redis-server started here
//   services   every instance of mesh.json (migrations run at start, under a lock)
//   web        apps/web built by Vite in watch mode (WEB_ROOT: serve a built copy instead)
//   gateway    Caddy with the repository Caddyfile (installed from Debian as root when missing)
// Ports are mesh.json's; DEV_PORTS=auto takes free ones instead (printed at start). Ctrl-C drains
// and stops every process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@switchyard/infra/db';
import { freePort } from '@switchyard/infra/testing';

interface MeshList {
  gateway: { port: number; metricsPort: number };
  web: { root: string };
  services: Array<{ name: string; instances: number; port: number; metricsPort: number }>;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const env = process.env;
const say = (line: string) => process.stdout.write(`dev: ${line}\n`);
const autoPorts = env.DEV_PORTS === 'auto';
const dataRoot = resolve(ROOT, env.DEV_DATA_ROOT ?? '.data');

// Development-only secrets; production refuses to start without real ones.
const DEV_NOTES_KEY = env.NOTES_SERVICE_KEY ?? 'dev-only-notes-key-0123456789';
const DEV_AUTH_SECRET = env.AUTH_KEY_SECRET ?? 'dev-only-secret-not-for-production-0123';

const port = (fixed: number) => (autoPorts ? freePort() : Promise.resolve(fixed));

function redisAnswers(redisPort: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(redisPort, '127.0.0.1');
    socket.setTimeout(500, () => (socket.destroy(), done(false)));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => (socket.destroy(), done(String(data).startsWith('+PONG'))));
  });
}

const has = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;

/** Installs a Debian package as root when its binary is missing; false (and the line to run) otherwise. */
function ensureBinary(binary: string, debianPackage: string): boolean {
  if (has(binary)) return true;
  if (process.getuid?.() === 0 && has('apt-get')) {
    say(`${binary} is missing: installing Debian's ${debianPackage}`);
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env: aptEnv });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debianPackage], { stdio: 'inherit', env: aptEnv });
  }
  if (has(binary)) return true;
  say(`${binary} is missing. Install it with: apt-get install -y ${debianPackage}`);
  return false;
}

const children = new Set<ChildProcess>();
/** Children that began draining: a signal reached them already (turbo forwards Ctrl-C to the group). */
const draining = new WeakSet<ChildProcess>();
const embedded: EmbeddedPostgres[] = [];
let stopping = false;

/** A crashed service instance is started again after this wait, doubled per crash up to the cap (ms). */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 8_000;
/** An instance that ran this long before it crashed starts its waits again from the first (ms). */
const RESTART_RESET_MS = 30_000;

/**
 * Starts a process whose output lines are prefixed with its name; `started` resolves at the first
 * line containing `readyLine`. With `restart`, a crash (any exit but Ctrl-C's signals) starts it
 * again with a backoff while the rest keep running; without it, a crash stops the mesh.
 */
function run(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; readyLine?: string; restart?: boolean },
): { started: Promise<void> } {
  const label = name.padEnd(10);
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((done) => (markStarted = done));
  let waitMs = RESTART_FIRST_MS;
  let restarts = 0;
  const launch = () => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const launchedAt = Date.now();
    children.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        if (line.includes('draining: readiness now fails')) draining.add(child);
        process.stdout.write(`${label}| ${line}\n`);
        if (!options.readyLine || !line.includes(options.readyLine)) return;
        markStarted();
        if (restarts > 0) say(`${name} is back (restart ${restarts})`);
      });
    }
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (stopping) return;
      // A terminal's Ctrl-C reaches the whole process group: a child can end by it before this
      // process handles its own SIGINT. That is the user stopping the mesh, not a failure.
      if (signal === 'SIGINT' || signal === 'SIGTERM') {
        void stop(0);
        return;
      }
      if (!options.restart) {
        say(`${name} exited (${code ?? signal}): stopping the mesh`);
        void stop(1);
        return;
      }
      if (Date.now() - launchedAt >= RESTART_RESET_MS) waitMs = RESTART_FIRST_MS;
      say(`${name} exited (${code ?? signal}): starting it again in ${waitMs} ms; the rest keep running`);
      setTimeout(() => {
        if (stopping) return;
        restarts++;
        launch();
      }, waitMs);
      waitMs = Math.min(waitMs * 2, RESTART_MAX_MS);
    });
  };
  launch();
  return { started };
}

async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  const exited = Promise.all([...children].map((child) => new Promise((done) => child.once('exit', done))));
  // A terminal's Ctrl-C reaches every process of the group; a second signal would cut a drain
  // short. So only the processes that did not begin draining (or exit) get SIGTERM.
  await Promise.race([exited, new Promise((done) => setTimeout(done, 500))]);
  for (const child of children) if (!draining.has(child)) child.kill('SIGTERM');
  await exited;
  for (const db of embedded) await db.close().catch(() => undefined);
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const group = spawnSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).stdout.trim();
say(`runner pid ${process.pid}, process group ${group}`);

const mesh = JSON.parse(await readFile(join(ROOT, 'mesh.json'), 'utf8')) as MeshList;

// Redis.
let redisUrl = env.REDIS_URL;
if (redisUrl) say(`Redis: REDIS_URL (${redisUrl.replace(/\/\/[^@]*@/, '//')})`);
else if (await redisAnswers(6379)) {
  redisUrl = 'redis://127.0.0.1:6379';
  say('Redis: the one already running on 127.0.0.1:6379');
} else if (ensureBinary('redis-server', 'redis-server')) {
  const redisPort = await port(6379);
  run('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    cwd: ROOT,
    env,
  });
  redisUrl = `redis://127.0.0.1:${redisPort}`;
  say(`Redis: none running: started redis-server on 127.0.0.1:${redisPort} (no persistence)`);
  const until = Date.now() + 10_000;
  while (!(await redisAnswers(redisPort)) && Date.now() < until) await new Promise((done) => setTimeout(done, 100));
} else {
  say('Redis: none available (set REDIS_URL, or install redis-server): stopping');
  process.exit(1);
}

// Databases: one per service.
const databaseUrls: Record<string, string> = {};
for (const service of mesh.services) {
  const variable = `${service.name.toUpperCase()}_DATABASE_URL`;
  const url = env[variable];
  if (url) {
    databaseUrls[service.name] = url;
    continue;
  }
  const dataDir = join(dataRoot, service.name);
  const db = await startEmbeddedPostgres({ dataDir, maxConnections: 64 });
  embedded.push(db);
  databaseUrls[service.name] = db.url;
  say(`${variable} is not set: using the embedded PostgreSQL (PGlite) in ${dataDir}`);
}

// Every instance of every service, its ports decided first (the status view and the gateway need them).
interface Planned {
  service: MeshList['services'][number];
  name: string;
  port: number;
  metricsPort: number;
}
const plan: Planned[] = [];
for (const service of mesh.services) {
  for (let i = 0; i < service.instances; i++) {
    plan.push({
      service,
      name: service.instances > 1 ? `${service.name}-${i + 1}` : service.name,
      port: await port(service.port + i),
      metricsPort: await port(service.metricsPort + i),
    });
  }
}
const urlsOf = (name: string) => plan.filter((p) => p.service.name === name).map((p) => `http://127.0.0.1:${p.port}`);
const authUrl = urlsOf('auth')[0] ?? 'http://127.0.0.1:4002';
const meshInstances = mesh.services.map((s) => `${s.name}=${urlsOf(s.name).join(',')}`).join(';');
const upstreams: Record<string, string[]> = {};
for (const p of plan) (upstreams[p.service.name] ??= []).push(`127.0.0.1:${p.port}`);

const startInstance = (p: Planned) =>
  run(p.name, process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', 'src/main.ts'], {
    cwd: join(ROOT, 'apps', p.service.name),
    readyLine: `${p.service.name} listening`,
    restart: true,
    env: {
      ...env,
      NODE_ENV: env.NODE_ENV ?? 'development',
      HOST: env.HOST ?? '127.0.0.1',
      PORT: String(p.port),
      METRICS_PORT: String(p.metricsPort),
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrls[p.service.name],
      DB_POOL_MAX: '4',
      INSTANCE_COUNT: String(p.service.instances),
      AUTH_URL: authUrl,
      AUTH_KEY_SECRET: DEV_AUTH_SECRET,
      TRUSTED_SERVICE_KEYS: `notes=${DEV_NOTES_KEY}`,
      SERVICE_KEY: DEV_NOTES_KEY,
      COOKIE_SECURE: env.COOKIE_SECURE ?? 'false',
      TRUSTED_PROXIES: env.TRUSTED_PROXIES ?? '127.0.0.1',
      DRAIN_DELAY_MS: env.DRAIN_DELAY_MS ?? '1500',
      MESH_INSTANCES: meshInstances,
    },
  });
// The first instance of each service starts (and migrates) first, the others once it listens: an
// embedded database is one session, where advisory locks do not keep concurrent migrations apart.
const firsts = mesh.services.map((service) => startInstance(plan.find((p) => p.service === service)!));
const rest = mesh.services.map(async (service, index) => {
  await firsts[index]!.started;
  const others = plan.filter((p) => p.service === service).slice(1).map(startInstance);
  await Promise.all(others.map((o) => o.started));
});

// The web app, rebuilt on every change (Caddy serves the files).
const webRoot = resolve(ROOT, env.WEB_ROOT ?? mesh.web.root);
const web = env.WEB_ROOT
  ? undefined
  : run('web', process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--watch'], {
      cwd: join(ROOT, 'apps/web'),
      env: { ...env, WEB_OUT_DIR: webRoot },
      readyLine: 'built in',
    });

// The gateway.
const gatewayPort = await port(mesh.gateway.port);
const gatewayMetricsPort = await port(mesh.gateway.metricsPort);
let gateway = false;
if (ensureBinary('caddy', 'caddy')) {
  const caddyEnv: NodeJS.ProcessEnv = {
    ...env,
    GATEWAY_SITE: `:${gatewayPort}`,
    GATEWAY_METRICS_PORT: String(gatewayMetricsPort),
    CADDY_ADMIN: autoPorts ? `127.0.0.1:${await freePort()}` : (env.CADDY_ADMIN ?? 'localhost:2019'),
    CORS_ORIGINS: env.CORS_ORIGINS ?? '',
    WEB_ROOT: webRoot,
  };
  for (const [name, list] of Object.entries(upstreams)) caddyEnv[`${name.toUpperCase()}_UPSTREAMS`] = list.join(' ');
  run('caddy', 'caddy', ['run', '--adapter', 'caddyfile', '--config', join(ROOT, 'Caddyfile')], { cwd: ROOT, env: caddyEnv });
  gateway = true;
} else {
  say('the gateway is not running (no caddy): call the services on their own ports');
}

await Promise.all([...firsts.map((f) => f.started), ...rest, web?.started]);
say('the mesh:');
if (gateway) {
  say(`  gateway   http://127.0.0.1:${gatewayPort}/api/<service>/trpc  (Caddy metrics :${gatewayMetricsPort}/metrics)`);
  say(`  web       http://127.0.0.1:${gatewayPort}/${existsSync(join(webRoot, 'index.html')) ? '' : `  (not built: ${webRoot} has no index.html)`}`);
}
for (const p of plan) {
  say(`  ${p.name.padEnd(9)} http://127.0.0.1:${p.port}/trpc  (metrics :${p.metricsPort}/metrics)`);
}
say('Ctrl-C stops everything.');
