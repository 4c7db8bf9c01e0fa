import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, type TestDatabase, type TestRedis } from '@switchyard/infra/testing';
import { createTestMeshEnv } from '@switchyard/mesh/test-env';
import { startGateway, type Gateway } from './gateway.js';
import { createTestDatabases, instanceLauncher, type Instance } from './services.js';

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
  const meshEnv = createTestMeshEnv();
  const notesCount = meshEnv.mesh.services.find((s) => s.name === 'notes')?.instances ?? 3;
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

    const instance = instanceLauncher({ REDIS_URL: redis.url, TRUSTED_PROXIES: '127.0.0.1', ...options.env }, all);

    const auth = await instance('auth', () => ({
      ...meshEnv.of('auth', {}),
      DATABASE_URL: authDb!.url,
      COOKIE_SECURE: 'false',
      SCRYPT_COST: '1024',
    }));
    // Started together, as an orchestrator would: migrations wait on their advisory lock.
    const notes = await Promise.all(
      Array.from({ length: notesCount }, () =>
        instance('notes', () => ({
          ...meshEnv.of('notes', { auth: [auth.url] }),
          DATABASE_URL: notesDb!.url,
          INSTANCE_COUNT: String(notesCount),
        })),
      ),
    );
    // The status view reads every instance, its own included: activity starts once the others'
    // ports are known, on a port chosen for it.
    const activity = await instance(
      'activity',
      (port) => ({
        ...meshEnv.of('activity', { auth: [auth.url] }),
        DATABASE_URL: activityDb!.url,
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
