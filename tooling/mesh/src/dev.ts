// `npm run dev`: the whole mesh of mesh.json on this machine, in one process tree;
// `npm run dev -- notes`: notes and every service it reaches, for a smaller loop.
//   databases  <NAME>_DATABASE_URL per service, else an embedded PostgreSQL (PGlite) per service in
//              DEV_DATA_ROOT/<name> (shared by that service's instances), kept across runs
//   Redis      REDIS_URL, else the Redis on 127.0.0.1:6379, else a redis-server started here
//   services   every instance of mesh.json (migrations run at start, under a lock), each with its
//              service's own key and the keys of only the services mesh.json lets call it; an
//              instance counts as started once its /ready answers 200
//   web        apps/web built by Vite in watch mode (WEB_ROOT: serve a built copy instead)
//   gateway    Caddy with the repository Caddyfile (installed from Debian as root when missing),
//              started once every instance is ready, so its first health checks find them up
// Ports are mesh.json's; DEV_PORTS=auto takes free ones instead (printed at start). Ctrl-C drains
// and stops every process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '@switchyard/infra/db';
import { freePort } from '@switchyard/infra/testing';
import { envName, readMeshList, type MeshService } from './gen/mesh-list.js';
import { meshEnvOf, selectServices } from './instance-env.js';
import { closeOnStop, isStopping, run, say, stop } from './processes.js';
import { readyAt, readyLine } from './readiness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const env = process.env;
const autoPorts = env.DEV_PORTS === 'auto';
const dataRoot = resolve(ROOT, env.DEV_DATA_ROOT ?? '.data');

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

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const group = spawnSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).stdout.trim();
say(`runner pid ${process.pid}, process group ${group}`);

const mesh = readMeshList(ROOT);
let services: MeshService[];
try {
  services = selectServices(mesh, process.argv.slice(2));
} catch (err) {
  say((err as Error).message);
  process.exit(1);
}
if (services.length < mesh.services.length) {
  say(`${process.argv.slice(2).join(', ')} and what it reaches: ${services.map((s) => s.name).join(', ')}`);
}

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
for (const service of services.filter((s) => s.db)) {
  const variable = `${envName(service.name)}_DATABASE_URL`;
  const url = env[variable];
  if (url) {
    databaseUrls[service.name] = url;
    continue;
  }
  const dataDir = join(dataRoot, service.name);
  const db = await startEmbeddedPostgres({ dataDir, maxConnections: 64 });
  closeOnStop(() => db.close());
  databaseUrls[service.name] = db.url;
  say(`${variable} is not set: using the embedded PostgreSQL (PGlite) in ${dataDir}`);
}

// Every instance of every service, its ports decided first (the status view and the gateway need them).
interface Planned {
  service: MeshService;
  name: string;
  port: number;
  metricsPort: number;
}
const plan: Planned[] = [];
for (const service of services) {
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
const meshInstances = services.map((s) => `${s.name}=${urlsOf(s.name).join(',')}`).join(';');
const upstreams: Record<string, string[]> = {};
for (const p of plan) (upstreams[p.service.name] ??= []).push(`127.0.0.1:${p.port}`);

const startInstance = (p: Planned) => {
  const instanceEnv: NodeJS.ProcessEnv = {
    ...env,
    NODE_ENV: env.NODE_ENV ?? 'development',
    HOST: env.HOST ?? '127.0.0.1',
    PORT: String(p.port),
    METRICS_PORT: String(p.metricsPort),
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrls[p.service.name],
    DB_POOL_MAX: '4',
    INSTANCE_COUNT: String(p.service.instances),
    ...meshEnvOf(mesh, p.service, urlsOf, env),
    COOKIE_SECURE: env.COOKIE_SECURE ?? 'false',
    TRUSTED_PROXIES: env.TRUSTED_PROXIES ?? '127.0.0.1',
    DRAIN_DELAY_MS: env.DRAIN_DELAY_MS ?? '1500',
    ...(p.service.watchesMesh ? { MESH_INSTANCES: meshInstances } : {}),
  };
  for (const [name, value] of Object.entries(instanceEnv)) if (value === undefined) delete instanceEnv[name];
  return run(p.name, process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', 'src/main.ts'], {
    cwd: join(ROOT, 'apps', p.service.name),
    ready: readyAt(`http://127.0.0.1:${p.port}`),
    restart: true,
    env: instanceEnv,
  });
};
// The first instance of each service starts (and migrates) first, the others once it listens: an
// embedded database is one session, where advisory locks do not keep concurrent migrations apart.
const firsts = services.map((service) => startInstance(plan.find((p) => p.service === service)!));
const rest = services.map(async (service, index) => {
  await firsts[index]!.started;
  const others = plan
    .filter((p) => p.service === service)
    .slice(1)
    .map(startInstance);
  await Promise.all(others.map((o) => o.started));
});

// The web app, rebuilt on every change (Caddy serves the files).
const webRoot = resolve(ROOT, env.WEB_ROOT ?? mesh.web.root);
const web = env.WEB_ROOT
  ? undefined
  : run('web', process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--watch'], {
      cwd: join(ROOT, 'apps/web'),
      env: { ...env, WEB_OUT_DIR: webRoot },
      ready: readyLine('built in'),
    });

// The gateway, once every instance is ready: its health checks never see one still starting.
await Promise.all([...firsts.map((f) => f.started), ...rest]);
let meshUp = false;
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
  for (const [name, list] of Object.entries(upstreams)) caddyEnv[`${envName(name)}_UPSTREAMS`] = list.join(' ');
  run('caddy', 'caddy', ['run', '--adapter', 'caddyfile', '--config', join(ROOT, 'Caddyfile')], {
    cwd: ROOT,
    env: caddyEnv,
    // A failed health check before the mesh is up is of an instance not started yet, and one of a
    // service this run leaves out (`npm run dev -- notes`) is of nothing: noise, both.
    hide: (line) =>
      line.includes('health_checker') && (!meshUp || !plan.some((p) => line.includes(`"host":"127.0.0.1:${p.port}"`))),
  });
  gateway = true;
} else {
  say('the gateway is not running (no caddy): call the services on their own ports');
}

await web?.started;
if (isStopping()) await new Promise(() => undefined);
meshUp = true;
say('the mesh:');
if (gateway) {
  say(`  gateway   http://127.0.0.1:${gatewayPort}/api/<service>/trpc  (Caddy metrics :${gatewayMetricsPort}/metrics)`);
  say(
    `  web       http://127.0.0.1:${gatewayPort}/${existsSync(join(webRoot, 'index.html')) ? '' : `  (not built: ${webRoot} has no index.html)`}`,
  );
}
for (const p of plan) {
  say(`  ${p.name.padEnd(9)} http://127.0.0.1:${p.port}/trpc  (metrics :${p.metricsPort}/metrics)`);
}
say('Ctrl-C stops everything.');
