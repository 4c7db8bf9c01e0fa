import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readMeshList } from '@switchyard/mesh/mesh-list';
import { REPO } from './repo.js';

type ReadEnv = (env: Record<string, string>) => { PORT: number; METRICS_PORT: number };
/** A service's own env.ts (each app's settings reader; apps are not dependencies of this package). */
const envOf = async (service: string) =>
  ((await import(pathToFileURL(join(REPO, 'apps', service, 'src/env.ts')).href)) as { readEnv: ReadEnv }).readEnv;

// A service started without PORT or METRICS_PORT listens where mesh.json puts its first
// instance, so a service run alone is where the gateway and the other services look for it.
const DEV = { NODE_ENV: 'development', REDIS_URL: 'redis://127.0.0.1:6379', AUTH_KEY_SECRET: 'x'.repeat(32) };

describe("each service's default ports", () => {
  it("are its first instance's ports in mesh.json", async () => {
    const mesh = readMeshList(REPO);
    for (const service of mesh.services) {
      const { PORT, METRICS_PORT } = (await envOf(service.name))(DEV);
      expect([service.name, PORT, METRICS_PORT]).toEqual([service.name, service.port, service.metricsPort]);
    }
  });
});
