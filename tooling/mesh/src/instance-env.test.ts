import { describe, expect, it } from 'vitest';
import { composeRegions } from './gen/compose.js';
import { parseMeshList } from './gen/mesh-list.js';
import { meshEnvOf } from './instance-env.js';

const mesh = parseMeshList({
  gateway: { port: 8080, metricsPort: 2020 },
  web: { root: 'apps/web/dist' },
  services: [
    { name: 'auth', instances: 2, port: 4002, metricsPort: 9402, calls: [] },
    { name: 'notes', instances: 1, port: 4011, metricsPort: 9411, calls: ['auth'] },
  ],
});
const notes = mesh.services[1]!;

describe('meshEnvOf', () => {
  it('gives a caller every running instance of its callee, in one comma-separated list', () => {
    const urlsOf = (name: string) => (name === 'auth' ? ['http://127.0.0.1:5002', 'http://127.0.0.1:5003'] : []);
    expect(meshEnvOf(mesh, notes, urlsOf, {}).AUTH_URL).toBe('http://127.0.0.1:5002,http://127.0.0.1:5003');
  });

  it("gives every instance's port from mesh.json when the callee is not running here", () => {
    expect(meshEnvOf(mesh, notes, () => [], {}).AUTH_URL).toBe('http://127.0.0.1:4002,http://127.0.0.1:4003');
  });

  it("names the same variables as docker-compose.yml's environment, and removes leaked keys", () => {
    const compose = composeRegions(mesh).services!.map((line) => line.trim());
    const composeNames = (host: string) => {
      const at = compose.indexOf(`${host}:`);
      const env = compose.slice(compose.indexOf('environment:', at) + 2);
      const end = env.findIndex((line) => !/^[A-Z_]+: /.test(line));
      return env.slice(0, end === -1 ? undefined : end).map((line) => line.slice(0, line.indexOf(':')));
    };
    const fixed = ['PORT', 'METRICS_PORT', 'INSTANCE_COUNT', 'DATABASE_URL', 'MESH_INSTANCES'];
    const leaked = { SERVICE_KEY: 'leaked', TRUSTED_SERVICE_KEYS: 'leaked' };
    for (const [service, host] of [
      [mesh.services[0]!, 'auth-1'],
      [notes, 'notes'],
    ] as const) {
      const dev = meshEnvOf(mesh, service, () => [], leaked);
      const defined = Object.keys(dev).filter((name) => dev[name] !== undefined);
      expect(defined.sort(), service.name).toEqual(
        composeNames(host)
          .filter((name) => !fixed.includes(name))
          .sort(),
      );
    }
    // auth calls nothing: the runner's SERVICE_KEY does not reach it; notes is called by none.
    expect(meshEnvOf(mesh, mesh.services[0]!, () => [], leaked)).toMatchObject({ SERVICE_KEY: undefined });
    expect(meshEnvOf(mesh, notes, () => [], leaked)).toMatchObject({ TRUSTED_SERVICE_KEYS: undefined, ALLOWED_CALLERS: '' });
  });
});
