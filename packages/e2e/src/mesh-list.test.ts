import { spawnSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readMeshList, type MeshList } from '@switchyard/mesh/mesh-list';
import { CADDYFILE, REPO } from './repo.js';

// mesh.json is the one list of services, instances and ports. The dev runner reads it; the
// Caddyfile, docker-compose.yml and Prometheus' targets are checked against it here, so adding a
// service (or an instance) cannot leave one of them stale. The tools themselves check each file.

/** Instances of every service: name, compose host, API and metrics ports. */
function instancesOf(mesh: MeshList) {
  return mesh.services.flatMap((s) =>
    Array.from({ length: s.instances }, (_, i) => ({
      service: s.name,
      host: s.instances > 1 ? `${s.name}-${i + 1}` : s.name,
      port: s.port + i,
      metricsPort: s.metricsPort + i,
    })),
  );
}

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// docker-compose refuses to interpolate without the secrets it requires (`${NAME:?...}`); any
// values do for a static check.
async function composeSecrets(): Promise<Record<string, string>> {
  const compose = await readFile(join(REPO, 'docker-compose.yml'), 'utf8');
  const names = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)].map((m) => m[1]!));
  return Object.fromEntries([...names].map((name) => [name, `check-${name.toLowerCase()}`]));
}

describe('the one list of the mesh (mesh.json)', () => {
  it('the Caddyfile is valid and routes exactly the listed services to their listed instances', async () => {
    const validate = run('caddy', ['validate', '--adapter', 'caddyfile', '--config', CADDYFILE], { CADDY_ADMIN: 'off' });
    expect(validate.output).toContain('Valid configuration');
    expect(validate.status).toBe(0);

    const mesh = readMeshList(REPO);
    const caddyfile = await readFile(CADDYFILE, 'utf8');
    const routed = [...caddyfile.matchAll(/handle \/api\/([a-z-]+)\/\* \{/g)].map((m) => m[1]);
    expect(routed.sort()).toEqual(mesh.services.map((s) => s.name).sort());
    for (const service of mesh.services) {
      const defaults = new RegExp(`\\{\\$${service.name.toUpperCase()}_UPSTREAMS:([^}]*)\\}`).exec(caddyfile)?.[1];
      const expected = instancesOf(mesh)
        .filter((i) => i.service === service.name)
        .map((i) => `127.0.0.1:${i.port}`)
        .join(' ');
      expect(defaults, service.name).toBe(expected);
    }
    expect(caddyfile).toContain(`{$GATEWAY_SITE::${mesh.gateway.port}}`);
    expect(caddyfile).toContain(`:{$GATEWAY_METRICS_PORT:${mesh.gateway.metricsPort}}`);
  });

  it('docker-compose.yml is valid and runs every listed instance on its ports, behind Caddy', async () => {
    const config = run('docker-compose', ['config'], await composeSecrets());
    expect(config.status, config.output).toBe(0);
    type ComposeService = {
      build?: { args?: Record<string, string> };
      environment?: Record<string, string>;
      healthcheck?: unknown;
      deploy?: { resources?: { limits?: unknown } };
      depends_on?: Record<string, { condition: string }>;
    };
    const compose = parse(config.output) as { services: Record<string, ComposeService> };
    const mesh = readMeshList(REPO);
    const instances = instancesOf(mesh);
    for (const instance of instances) {
      const service = compose.services[instance.host];
      expect(service, instance.host).toBeDefined();
      expect(service!.build?.args?.SERVICE).toBe(instance.service);
      expect(service!.environment?.PORT).toBe(String(instance.port));
      expect(service!.environment?.METRICS_PORT).toBe(String(instance.metricsPort));
      expect(service!.deploy?.resources?.limits, instance.host).toBeDefined();
      expect(Object.values(service!.depends_on ?? {}).every((d) => d.condition === 'service_healthy')).toBe(true);
    }
    // No app container the list does not know of.
    const built = Object.entries(compose.services)
      .filter(([, s]) => s.build?.args?.SERVICE)
      .map(([name]) => name);
    expect(built.sort()).toEqual(instances.map((i) => i.host).sort());
    const caddy = compose.services.caddy!;
    for (const service of mesh.services) {
      expect(caddy.environment?.[`${service.name.toUpperCase()}_UPSTREAMS`], service.name).toBe(
        instances
          .filter((i) => i.service === service.name)
          .map((i) => `${i.host}:${i.port}`)
          .join(' '),
      );
    }
    expect(caddy.environment?.GATEWAY_METRICS_PORT).toBe(String(mesh.gateway.metricsPort));
    // The status view reads every instance.
    expect(compose.services.activity?.environment?.MESH_INSTANCES).toBe(
      mesh.services
        .map(
          (s) =>
            `${s.name}=${instances
              .filter((i) => i.service === s.name)
              .map((i) => `http://${i.host}:${i.port}`)
              .join(',')}`,
        )
        .join(';'),
    );
    // Every long-running container says when it is healthy, and nothing secret is in the file.
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== 'promtail') expect(service.healthcheck, name).toBeDefined();
    }
    const raw = await readFile(join(REPO, 'docker-compose.yml'), 'utf8');
    for (const line of raw.split('\n').filter((l) => /(PASSWORD|SECRET|_KEY)[A-Z_]*:/.test(l))) {
      expect(line, 'secrets come from .env').toMatch(/\$\{[A-Z_]+:\?/);
    }
  });

  it('Prometheus scrapes every listed metrics port; config, alert rules and their unit tests pass promtool', async () => {
    const mesh = readMeshList(REPO);
    const file = join(REPO, 'deploy/prometheus/prometheus.yml');
    const prometheus = parse(await readFile(file, 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = Object.fromEntries(
      prometheus.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((c) => c.targets).sort()]),
    );
    const expected: Record<string, string[]> = { caddy: [`caddy:${mesh.gateway.metricsPort}`] };
    for (const instance of instancesOf(mesh))
      (expected[instance.service] ??= []).push(`${instance.host}:${instance.metricsPort}`);
    for (const list of Object.values(expected)) list.sort();
    expect(targets).toEqual(expected);

    const config = run('promtool', ['check', 'config', file]);
    expect(config.output).toContain('SUCCESS');
    expect(config.status, config.output).toBe(0);
    const rules = run('promtool', ['check', 'rules', join(REPO, 'deploy/prometheus/alerts.yml')]);
    expect(rules.status, rules.output).toBe(0);
    const tests = run('promtool', ['test', 'rules', join(REPO, 'deploy/prometheus/alerts.test.yml')]);
    expect(tests.output).toContain('SUCCESS');
    expect(tests.status, tests.output).toBe(0);
  });

  it('Grafana dashboards are provisioned and query only series the services export', async () => {
    const dir = join(REPO, 'deploy/grafana/dashboards');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    // Every switchyard_* name the services define, from the source.
    const sources = spawnSync('grep', ['-rhoE', "'switchyard_[a-z_]+'", join(REPO, 'packages/infra/src')], { encoding: 'utf8' });
    const defined = new Set(sources.stdout.split('\n').map((s) => s.replaceAll("'", '')));
    const uids = new Set<string>();
    for (const file of files) {
      const dashboard = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
        uid: string;
        panels: Array<{ targets: Array<{ expr: string }> }>;
      };
      uids.add(dashboard.uid);
      for (const target of dashboard.panels.flatMap((p) => p.targets)) {
        for (const [name] of target.expr.matchAll(/switchyard_[a-z_]+/g)) {
          const base = name.replace(/_(bucket|count|sum)$/, '');
          expect(defined.has(base), `${file}: ${name}`).toBe(true);
        }
      }
    }
    expect(uids.size).toBe(files.length);
    const provisioning = await readFile(join(REPO, 'deploy/grafana/provisioning/dashboards/dashboards.yml'), 'utf8');
    expect(provisioning).toContain('/var/lib/grafana/dashboards');
  });

  it('the Dockerfile is multi-stage from turbo prune, runs as a non-root user, with a HEALTHCHECK', async () => {
    const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/turbo prune "@switchyard\/\$\{SERVICE\}" --docker/);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main.js"\]$/m); // exec form: SIGTERM reaches node
  });
});
