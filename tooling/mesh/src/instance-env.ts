// What mesh.json gives each instance in development: its own service key, the keys of the
// services allowed to call it (and only those), the address of every instance of the services it
// calls, and a development value for each secret it declares. Production gets the same from
// docker-compose.yml.
import { callersOf, envName, instancesOf, targetsOf, type MeshList, type MeshService } from './gen/mesh-list.js';

/** Development-only secrets; production refuses to start without real ones. */
const DEV_SECRETS: Record<string, string> = { AUTH_KEY_SECRET: 'dev-only-secret-not-for-production-0123' };

/** A service's key: `<NAME>_SERVICE_KEY` when set, else one for development only. */
export const serviceKeyOf = (name: string, env: NodeJS.ProcessEnv) =>
  env[`${envName(name)}_SERVICE_KEY`] ?? `dev-only-${name}-service-key-0123456789`;

/**
 * The mesh's part of an instance's environment; `urlsOf` gives a service's running instances.
 * Variables it leaves out are removed, so none leaks in from the runner's own environment.
 */
export function meshEnvOf(
  mesh: MeshList,
  service: MeshService,
  urlsOf: (name: string) => string[],
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const target of targetsOf(mesh, service)) {
    // Every instance: the caller's client takes them in turn and retries on another one.
    const running = urlsOf(target.name);
    const urls = running.length ? running : instancesOf(target).map((i) => `http://127.0.0.1:${i.port}`);
    out[`${envName(target.name)}_URL`] = urls.join(',');
  }
  const callers = callersOf(mesh, service.name);
  out.ALLOWED_CALLERS = callers.join(',');
  out.TRUSTED_SERVICE_KEYS = callers.length ? callers.map((c) => `${c}=${serviceKeyOf(c, env)}`).join(';') : undefined;
  out.SERVICE_KEY = service.calls.length ? serviceKeyOf(service.name, env) : undefined;
  for (const secret of service.secrets) {
    out[secret] = env[secret] ?? DEV_SECRETS[secret] ?? `dev-only-${secret.toLowerCase().replaceAll('_', '-')}-0123456789abcdef`;
  }
  return out;
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
