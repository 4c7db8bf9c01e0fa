import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pollUntil } from '@switchyard/infra/testing';
import { CADDYFILE, REPO } from './repo.js';
import { awaitAnswer, withFreshPorts } from './spawned-process.js';

/** A Caddy process started by a test. */
export interface Gateway {
  readonly child: ChildProcess;
  readonly url: string;
  readonly metricsUrl: string;
  output(): string;
  /** Caddy's JSON access-log entries so far. */
  accessLog(): Array<{ status: number; request: { uri: string; method: string; headers: Record<string, string[]> } }>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  caddyfile?: string;
  upstreams: Record<string, string[]>;
  corsOrigins: string[];
  webRoot: string;
}

/**
 * Runs Caddy (the installed `caddy` binary) with a Caddyfile, every address on a free port. Caddy
 * binds ports it is given, so they are chosen up front: a start that lost a port is made again.
 */
export function startGateway(options: GatewayOptions): Promise<Gateway> {
  return withFreshPorts(() => launchGateway(options));
}

async function launchGateway(options: GatewayOptions): Promise<Gateway> {
  const [port, metricsPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    XDG_DATA_HOME: join(tmpdir(), 'switchyard-caddy-data'),
    XDG_CONFIG_HOME: join(tmpdir(), 'switchyard-caddy-config'),
    GATEWAY_SITE: `:${port}`,
    GATEWAY_METRICS_PORT: String(metricsPort),
    CADDY_ADMIN: `127.0.0.1:${adminPort}`,
    CORS_ORIGINS: options.corsOrigins.join(' '),
    WEB_ROOT: options.webRoot,
  };
  for (const [service, list] of Object.entries(options.upstreams)) env[`${service.toUpperCase()}_UPSTREAMS`] = list.join(' ');
  const child = spawn('caddy', ['run', '--adapter', 'caddyfile', '--config', options.caddyfile ?? CADDYFILE], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await awaitAnswer(`caddy answering on ${url}`, child, async () => (await fetch(`${url}/api/none`)).status === 404, {
    timeoutMs: 20_000,
    output: () => out,
  });
  return {
    child,
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    output: () => out,
    accessLog: () =>
      out
        .split('\n')
        .filter((line) => line.includes('"logger":"http.log.access'))
        .map((line) => JSON.parse(line) as ReturnType<Gateway['accessLog']>[number]),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The gateway's access log once it holds every request answered so far: Caddy writes an entry
 * after its response, so this sends one more request and waits for that one's entry.
 */
export async function settledAccessLog(gateway: Gateway): Promise<ReturnType<Gateway['accessLog']>> {
  const mark = `settled-${randomBytes(6).toString('hex')}`;
  await (await fetch(`${gateway.url}/api/none`, { headers: { 'x-test-mark': mark } })).arrayBuffer();
  const marked = (e: ReturnType<Gateway['accessLog']>[number]) => e.request.headers['X-Test-Mark']?.[0] === mark;
  await pollUntil('the access log entry of the last request', () => gateway.accessLog().some(marked));
  return gateway.accessLog().filter((e) => !marked(e));
}
