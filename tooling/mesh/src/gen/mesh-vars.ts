// What mesh.json gives each instance, written once for every deployment: the address of every
// instance it calls, its own service key when it calls any, the services allowed to call it and
// their keys, and its secrets.
import { callersOf, envName, targetsOf, type MeshList, type MeshService } from './mesh-list.js';

/**
 * Where one deployment takes the values of {@link meshVarsOf}: real ones in development and the
 * tests, `${VAR:?}` placeholders in docker-compose.yml.
 * @example const sources: MeshVarSources = { urls: (t) => `http://${t.name}:${t.port}`, key: (n) => keys[n]!, secret: (n) => env[n]! };
 */
export interface MeshVarSources {
  /** `<TARGET>_URL`: every instance of `target`, separated by commas. */
  urls(target: MeshService): string;
  /** The service key of the service `name`. */
  key(name: string): string;
  /** The value of the secret variable `name`. */
  secret(name: string): string;
}

/**
 * The mesh's variables for an instance of `service`; a variable the service does not need is left
 * out (a service that calls none has no SERVICE_KEY, one called by none no TRUSTED_SERVICE_KEYS).
 * @example meshVarsOf(mesh, notes, sources) // { AUTH_URL: 'http://auth:4002', SERVICE_KEY: '…', ALLOWED_CALLERS: '' }
 */
export function meshVarsOf(mesh: MeshList, service: MeshService, sources: MeshVarSources): Record<string, string> {
  const vars: Record<string, string> = {};
  // Every instance: the caller's client takes them in turn and retries on another one.
  for (const target of targetsOf(mesh, service)) vars[`${envName(target.name)}_URL`] = sources.urls(target);
  if (service.calls.length) vars.SERVICE_KEY = sources.key(service.name);
  const callers = callersOf(mesh, service.name);
  vars.ALLOWED_CALLERS = callers.join(',');
  if (callers.length) vars.TRUSTED_SERVICE_KEYS = callers.map((c) => `${c}=${sources.key(c)}`).join(';');
  for (const secret of service.secrets) vars[secret] = sources.secret(secret);
  return vars;
}
