// docker-compose.yml's generated parts: a container per instance with its ports, database,
// service key, the keys of the services allowed to call it and the address of every instance of
// those it calls; the database passwords Postgres creates roles with; Caddy's upstreams. The
// shared anchors (`*service`, `*service-env`, `*needs-data`, `*needs-redis`) and every other
// container are hand-kept.
import { allInstances, envName, instancesOf, targetsOf, type Instance, type MeshList, type MeshService } from './mesh-list.js';
import { meshVarsOf } from './mesh-vars.js';

/** `${NAME:?set NAME in .env}`: compose refuses to start without the secret. */
export const required = (variable: string, hint = '') => `\${${variable}:?set ${variable} in .env${hint}}`;

/** A value as YAML: single-quoted (it may be empty, or look like a number), or plain when it holds a placeholder. */
const scalar = (value: string) => (value.includes('${') ? value : `'${value.replaceAll("'", "''")}'`);
const keyOf = (name: string) => required(`${envName(name)}_SERVICE_KEY`);
/** Every instance of `service` by its compose host: a caller's `<NAME>_URL` and the status view's list. */
const instanceUrls = (service: MeshService) =>
  instancesOf(service)
    .map((i) => `http://${i.host}:${i.port}`)
    .join(',');

function environment(mesh: MeshList, instance: Instance): string[] {
  const s = instance.service;
  const env = [`PORT: '${instance.port}'`, `METRICS_PORT: '${instance.metricsPort}'`, `INSTANCE_COUNT: '${s.instances}'`];
  if (s.db) env.push(`DATABASE_URL: postgres://${s.name}:${required(`${envName(s.name)}_DB_PASSWORD`)}@postgres:5432/${s.name}`);
  const vars = meshVarsOf(mesh, s, { urls: instanceUrls, key: keyOf, secret: required });
  for (const [name, value] of Object.entries(vars)) env.push(`${name}: ${scalar(value)}`);
  if (s.watchesMesh) {
    const list = mesh.services.map((m) => `${m.name}=${instanceUrls(m)}`);
    env.push(`MESH_INSTANCES: ${scalar(list.join(';'))}`);
  }
  return env;
}

function container(mesh: MeshList, instance: Instance): string[] {
  const s = instance.service;
  const callees = targetsOf(mesh, s).flatMap(instancesOf);
  return [
    `${instance.host}:`,
    '  <<: *service',
    '  build:',
    '    context: .',
    '    dockerfile: Dockerfile',
    `    args: { SERVICE: ${s.name} }`,
    `  image: switchyard/${s.name}:local`,
    '  depends_on:',
    `    <<: ${s.db ? '*needs-data' : '*needs-redis'}`,
    ...callees.flatMap((c) => [`    ${c.host}:`, '      condition: service_healthy']),
    '  environment:',
    '    <<: *service-env',
    ...environment(mesh, instance).map((line) => `    ${line}`),
  ];
}

export function composeRegions(mesh: MeshList): Record<string, string[]> {
  const instances = allInstances(mesh);
  return {
    'database-passwords': mesh.services
      .filter((s) => s.db)
      .map((s) => `${envName(s.name)}_DB_PASSWORD: ${required(`${envName(s.name)}_DB_PASSWORD`)}`),
    services: instances.flatMap((i, index) => [...(index ? [''] : []), ...container(mesh, i)]),
    'gateway-upstreams': mesh.services.map(
      (s) =>
        `${envName(s.name)}_UPSTREAMS: ${instancesOf(s)
          .map((i) => `${i.host}:${i.port}`)
          .join(' ')}`,
    ),
    'gateway-depends-on': instances.flatMap((i) => [`${i.host}:`, '  condition: service_healthy']),
  };
}
