// The mesh's part of the environment of instances that tests and benchmarks start on ports of their
// own: the variables the dev runner and compose give (meshVarsOf), with keys and secrets fresh for
// each run, and each target's address taken from the instances actually started, never from
// mesh.json's ports.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { envName, readMeshList, type MeshList } from './gen/mesh-list.js';
import { meshVarsOf } from './gen/mesh-vars.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** mesh.json's environment for the instances of one test run. */
export interface TestMeshEnv {
  readonly mesh: MeshList;
  /** Every service's key (`<NAME>_SERVICE_KEY`) and every secret a service declares, random. */
  readonly secrets: Readonly<Record<string, string>>;
  /**
   * The mesh's part of an instance's environment: its targets' URLs, the keys of the callers
   * mesh.json allows, its own key, its secrets. `started` gives the URLs of the instances started,
   * by service; a target with none throws.
   */
  of(service: string, started: Readonly<Record<string, string[]>>): Record<string, string>;
}

/**
 * Reads mesh.json (or takes `mesh`) and draws the run's keys and secrets.
 * @example
 * const meshEnv = createTestMeshEnv();
 * const auth = await startService('auth', { ...meshEnv.of('auth', {}), DATABASE_URL: authDb.url });
 * const notes = await startService('notes', { ...meshEnv.of('notes', { auth: [auth.url] }), DATABASE_URL: notesDb.url });
 */
export function createTestMeshEnv(mesh: MeshList = readMeshList(ROOT)): TestMeshEnv {
  const secrets: Record<string, string> = {};
  for (const service of mesh.services) {
    secrets[`${envName(service.name)}_SERVICE_KEY`] = randomBytes(24).toString('base64url');
    for (const secret of service.secrets) secrets[secret] = randomBytes(32).toString('base64url');
  }
  return {
    mesh,
    secrets,
    of(name, started) {
      const service = mesh.services.find((s) => s.name === name);
      if (!service) throw new Error(`${name} is not a service of mesh.json`);
      return meshVarsOf(mesh, service, {
        urls: (target) => {
          const urls = started[target.name] ?? [];
          if (urls.length === 0) throw new Error(`${name} reaches ${target.name}, but no instance of ${target.name} is started`);
          return urls.join(',');
        },
        key: (owner) => secrets[`${envName(owner)}_SERVICE_KEY`]!,
        secret: (secret) => secrets[secret]!,
      });
    },
  };
}
