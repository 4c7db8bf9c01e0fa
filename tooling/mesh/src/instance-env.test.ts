import { describe, expect, it } from 'vitest';
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
});
