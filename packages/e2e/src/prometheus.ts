import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '@switchyard/infra/testing';
import { readMeshList } from '@switchyard/mesh/mesh-list';
import { REPO } from './repo.js';
import { awaitAnswer, withFreshPorts } from './spawned-process.js';
import type { Stack } from './stack.js';

/**
 * Runs the `prometheus` binary with deploy/prometheus/prometheus.yml, its compose targets
 * (`notes-2:9412`, `caddy:2020`) mapped to the stack's ports, scraping every second.
 */
export async function startPrometheus(stack: Stack): Promise<{ prometheus: string; stopPrometheus: () => Promise<void> }> {
  const mesh = readMeshList(REPO);
  const config = parse(await readFile(join(REPO, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const byHost = new Map<string, number>();
  for (const service of mesh.services) {
    const instances = stack.instances.filter((i) => i.name === service.name);
    instances.forEach((instance, i) =>
      byHost.set(service.instances > 1 ? `${service.name}-${i + 1}` : service.name, instance.metricsPort),
    );
  }
  byHost.set('caddy', Number(new URL(stack.gateway.metricsUrl).port));
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = config.rule_files.map((f) => join(REPO, 'deploy/prometheus', f));
  for (const job of config.scrape_configs) {
    for (const group of job.static_configs) {
      group.targets = group.targets.map((target) => {
        const port = byHost.get(target.split(':')[0]!);
        if (!port) throw new Error(`no running instance for the target ${target}`);
        return `127.0.0.1:${port}`;
      });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-prometheus-'));
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  try {
    return await withFreshPorts(() => launchPrometheus(dir));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launchPrometheus(dir: string): Promise<{ prometheus: string; stopPrometheus: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const prometheus = `http://127.0.0.1:${port}`;
  await awaitAnswer('prometheus ready', child, async () => (await fetch(`${prometheus}/-/ready`)).ok, {
    timeoutMs: 30_000,
    output: () => out,
  });
  const stopPrometheus = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  return { prometheus, stopPrometheus };
}
