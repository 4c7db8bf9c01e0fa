import { describe, expect, it } from 'vitest';
import { parseMeshList, type MeshService } from './gen/mesh-list.js';
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

  // As the dev runner builds an instance's environment: the runner's own, then the mesh's, with
  // the variables left undefined removed.
  const instanceEnv = (service: MeshService, env: Record<string, string>) =>
    Object.fromEntries(Object.entries({ ...env, ...meshEnvOf(mesh, service, () => [], env) }).filter(([, v]) => v !== undefined));
  const leaked = { SERVICE_KEY: 'leaked', TRUSTED_SERVICE_KEYS: 'leaked', NOTES_SERVICE_KEY: 'notes-key' };

  it("gives a service that calls none no SERVICE_KEY, even one from the runner's environment", () => {
    const auth = instanceEnv(mesh.services[0]!, leaked);
    expect(auth).not.toHaveProperty('SERVICE_KEY');
    expect(auth).toMatchObject({ ALLOWED_CALLERS: 'notes', TRUSTED_SERVICE_KEYS: 'notes=notes-key' });
  });

  it("gives a service called by none no TRUSTED_SERVICE_KEYS, even one from the runner's environment", () => {
    const env = instanceEnv(notes, leaked);
    expect(env).not.toHaveProperty('TRUSTED_SERVICE_KEYS');
    expect(env).toMatchObject({ ALLOWED_CALLERS: '', SERVICE_KEY: 'notes-key' });
  });
});
