// What mesh.json gives each instance: its own service key, the keys of the services allowed to
// call it (and only those), the address of every instance of the services it calls, and its
// secrets. Written once (meshVarsOf) for development, the tests and docker-compose.yml.
import { callersOf, envName, instancesOf, targetsOf, type MeshList, type MeshService } from './gen/mesh-list.js';

/** Development-only secrets; production refuses to start without real ones. */
const DEV_SECRETS: Record<string, string> = { AUTH_KEY_SECRET: 'dev-only-secret-not-for-production-0123' };

/** A service's key: `<NAME>_SERVICE_KEY` when set, else one for development only. */
export const serviceKeyOf = (name: string, env: NodeJS.ProcessEnv) =>
  env[`${envName(name)}_SERVICE_KEY`] ?? `dev-only-${name}-service-key-0123456789`;

/**
 * How one deployment writes what mesh.json gives an instance: values in development and tests,
 * `${VAR:?}` placeholders in docker-compose.yml.
 */
export interface MeshEnvNaming {
  /** `<TARGET>_URL`: every instance of `target`, separated by commas. */
  urls(target: MeshService): string;
  /** The service key of the service `name`. */
  key(name: string): string;
  /** The value of the secret variable `name`. */
  secret(name: string): string;
}

/**
 * The mesh's part of an instance's environment: the address of every instance it calls, its own
 * service key when it calls any, the services allowed to call it and their keys, and its secrets.
 * A variable the service does not need is left out.
 */
export function meshVarsOf(mesh: MeshList, service: MeshService, naming: MeshEnvNaming): Record<string, string> {
  const vars: Record<string, string> = {};
  // Every instance: the caller's client takes them in turn and retries on another one.
  for (const target of targetsOf(mesh, service)) vars[`${envName(target.name)}_URL`] = naming.urls(target);
  if (service.calls.length) vars.SERVICE_KEY = naming.key(service.name);
  const callers = callersOf(mesh, service.name);
  vars.ALLOWED_CALLERS = callers.join(',');
  if (callers.length) vars.TRUSTED_SERVICE_KEYS = callers.map((c) => `${c}=${naming.key(c)}`).join(';');
  for (const secret of service.secrets) vars[secret] = naming.secret(secret);
  return vars;
}

/**
 * {@link meshVarsOf} in development: `urlsOf` gives a service's running instances (mesh.json's
 * ports when none runs), keys and secrets come from `env` or are development-only. The service
 * key variables it leaves out are undefined, so none leaks in from the runner's own environment.
 */
export function meshEnvOf(
  mesh: MeshList,
  service: MeshService,
  urlsOf: (name: string) => string[],
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  const vars = meshVarsOf(mesh, service, {
    urls: (target) => {
      const running = urlsOf(target.name);
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
