import { describe, expect, it } from 'vitest';
import { parseMeshList } from './gen/mesh-list.js';
import { createTestMeshEnv } from './test-env.js';

const mesh = parseMeshList({
  gateway: { port: 8080, metricsPort: 2020 },
  web: { root: 'apps/web/dist' },
  services: [
    { name: 'auth', instances: 1, port: 4002, metricsPort: 9402, calls: [], secrets: ['AUTH_KEY_SECRET'] },
    { name: 'notes', instances: 2, port: 4011, metricsPort: 9411, calls: ['auth'] },
  ],
});

describe('createTestMeshEnv', () => {
  it("gives a caller the started instances' URLs and its key, which its callee trusts", () => {
    const meshEnv = createTestMeshEnv(mesh);
    const auth = meshEnv.of('auth', {});
    const notes = meshEnv.of('notes', { auth: ['http://127.0.0.1:5002'] });
    expect(notes.AUTH_URL).toBe('http://127.0.0.1:5002');
    expect(auth.TRUSTED_SERVICE_KEYS).toBe(`notes=${notes.SERVICE_KEY}`);
    expect(auth.ALLOWED_CALLERS).toBe('notes');
    expect(auth.AUTH_KEY_SECRET).toBe(meshEnv.secrets.AUTH_KEY_SECRET);
    // Nothing calls notes, and auth calls nothing: those variables are left out, not empty.
    expect(Object.keys(notes)).not.toContain('TRUSTED_SERVICE_KEYS');
    expect(Object.keys(auth)).not.toContain('SERVICE_KEY');
  });

  it('draws fresh keys for each run', () => {
    expect(createTestMeshEnv(mesh).secrets.NOTES_SERVICE_KEY).not.toBe(createTestMeshEnv(mesh).secrets.NOTES_SERVICE_KEY);
  });

  it('refuses a target with no started instance and a service mesh.json does not list', () => {
    const meshEnv = createTestMeshEnv(mesh);
    expect(() => meshEnv.of('notes', {})).toThrow('notes reaches auth, but no instance of auth is started');
    expect(() => meshEnv.of('billing', {})).toThrow('billing is not a service of mesh.json');
  });
});
