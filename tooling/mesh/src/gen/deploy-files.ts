// The generated parts of Prometheus' targets, the Postgres init script and .env.example.
import { envName, instancesOf, type MeshList } from './mesh-list.js';

/** A scrape job per service, one target per instance's metrics port. */
export function prometheusRegions(mesh: MeshList): Record<string, string[]> {
  return {
    'scrape-jobs': mesh.services.flatMap((s) => [
      `- job_name: ${s.name}`,
      '  static_configs:',
      `    - targets: [${instancesOf(s)
        .map((i) => `'${i.host}:${i.metricsPort}'`)
        .join(', ')}]`,
    ]),
  };
}

/** The services with a database: a role and a database each. */
export function postgresRegions(mesh: MeshList): Record<string, string[]> {
  const names = mesh.services.filter((s) => s.db).map((s) => s.name);
  return { databases: [`for service in ${names.join(' ')}; do`] };
}

/** Every secret docker-compose.yml asks for: database passwords, service keys, declared secrets. */
export function secretsOf(mesh: MeshList): string[] {
  const secrets = new Set<string>();
  for (const s of mesh.services) {
    if (s.db) secrets.add(`${envName(s.name)}_DB_PASSWORD`);
    for (const secret of s.secrets) secrets.add(secret);
    if (s.calls.length) secrets.add(`${envName(s.name)}_SERVICE_KEY`);
  }
  return [...secrets];
}

export function envExampleRegions(mesh: MeshList): Record<string, string[]> {
  return { secrets: secretsOf(mesh).map((name) => `${name}=`) };
}
