import { join } from 'node:path';
import {
  createTestDatabase,
  freePort,
  startServiceMain,
  type SpawnedService,
  type TestDatabase,
} from '@switchyard/infra/testing';
import { REPO } from './repo.js';

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

/** Starts a service process, again (at most 5 times) when it could not bind its port. */
async function startBinding(name: string, launch: () => Promise<SpawnedService>): Promise<SpawnedService> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch();
    } catch (err) {
      if (attempt === 5 || !/EADDRINUSE/.test((err as Error).message)) {
        throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}

/**
 * Makes the stack's instances, each with `baseEnv` under its own environment, adding each to `all`.
 * Each process binds port 0 and says which ports it got; a restart asks for the same ones (the
 * gateway and the other services know the instance by them). A restart that finds its port held
 * for a moment (another socket's ephemeral port) starts again.
 */
export function instanceLauncher(baseEnv: Record<string, string>, all: Instance[]) {
  return async (
    name: string,
    env: (port: number) => Record<string, string>,
    /** Chooses the API port up front, for a service whose environment names its own address. */
    choosePort = false,
  ): Promise<Instance> => {
    const envOf = (port: number) => ({ ...baseEnv, ...env(port) });
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
}
