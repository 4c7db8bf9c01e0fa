// What mesh.json gives each instance in development and the tests (meshVarsOf with real values),
// and which services `npm run dev -- <names>` starts.
import { envName, instancesOf, targetsOf, type MeshList, type MeshService } from './gen/mesh-list.js';
import { meshVarsOf } from './gen/mesh-vars.js';

/** Development-only secrets; production refuses to start without real ones. */
const DEV_SECRETS: Record<string, string> = { AUTH_KEY_SECRET: 'dev-only-secret-not-for-production-0123' };

/** A service's key: `<NAME>_SERVICE_KEY` when set, else one for development only. */
export const serviceKeyOf = (name: string, env: NodeJS.ProcessEnv) =>
  env[`${envName(name)}_SERVICE_KEY`] ?? `dev-only-${name}-service-key-0123456789`;

/**
 * {@link meshVarsOf} in development: `runningUrls` gives a service's running instances (mesh.json's
 * ports when none runs), keys and secrets come from `env` or are development-only. The service
 * key variables it leaves out are undefined, so that spread over the runner's own environment,
 * none of those leaks in.
 * @example const env = { ...process.env, ...meshEnvOf(mesh, notes, (name) => running[name] ?? [], process.env) };
 */
export function meshEnvOf(
  mesh: MeshList,
  service: MeshService,
  runningUrls: (name: string) => string[],
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  const vars = meshVarsOf(mesh, service, {
    urls: (target) => {
      const running = runningUrls(target.name);
      return (running.length ? running : instancesOf(target).map((i) => `http://127.0.0.1:${i.port}`)).join(',');
    },
    key: (name) => serviceKeyOf(name, env),
    secret: (name) => env[name] ?? DEV_SECRETS[name] ?? `dev-only-${name.toLowerCase().replaceAll('_', '-')}-0123456789abcdef`,
  });
  return { SERVICE_KEY: undefined, TRUSTED_SERVICE_KEYS: undefined, ...vars };
}

/** `npm run dev -- notes`: the named services and every service they reach, in mesh.json's order. */
export function selectServices(mesh: MeshList, names: string[]): MeshService[] {
  if (names.length === 0) return mesh.services;
  const byName = new Map(mesh.services.map((s) => [s.name, s]));
  const unknown = names.filter((n) => !byName.has(n));
  if (unknown.length) throw new Error(`not in mesh.json: ${unknown.join(', ')} (services: ${[...byName.keys()].join(', ')})`);
  const chosen = new Set<string>();
  const visit = (name: string) => {
    if (chosen.has(name) || !byName.has(name)) return;
    chosen.add(name);
    targetsOf(mesh, byName.get(name)!).forEach((target) => visit(target.name));
  };
  names.forEach(visit);
  return mesh.services.filter((s) => chosen.has(s.name));
}
