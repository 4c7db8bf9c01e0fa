import { spawn, type ChildProcess } from 'node:child_process';

/** A service process started by a test. */
export interface SpawnedService {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  readonly url: string;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** JSON log lines so far, parsed (lines that are not JSON are skipped). */
  logLines(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Sends a signal (to the process group when spawned with `group`). */
  signal(signal: NodeJS.Signals): void;
}

/** Options of {@link spawnService}. */
export interface SpawnServiceOptions {
  /** The command and its arguments, e.g. `['node', '--import', 'tsx', 'src/main.ts']`. */
  command: readonly [string, ...string[]];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Start it as a process group leader, so signals reach every process it starts (like Ctrl-C). */
  group?: boolean;
  /** How long to wait for the `listening` log line, in ms. @default 60000 */
  startTimeoutMs?: number;
  /** Which service's `<name> listening` line to wait for, when the command starts several. */
  service?: string;
}

/**
 * The command that runs a TypeScript file of the repository as every test runs one: Node with
 * the workspace packages resolved to their sources and tsx loading TypeScript.
 */
export const sourceCommand = (script: string): [string, ...string[]] => [
  process.execPath,
  '--conditions=@switchyard/source',
  '--import',
  'tsx',
  script,
];

const listeningLine = (service = '[a-z-]+') => new RegExp(`"port":(\\d+),"metricsPort":(\\d+),"msg":"${service} listening"`);

/**
 * Spawns a service process and waits for its `… listening` log line, which gives its ports.
 * The environment is exactly `env` plus PATH and HOME, so the test decides every variable.
 */
export function spawnService(options: SpawnServiceOptions): Promise<SpawnedService> {
  const [command, ...args] = options.command;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TURBO_TELEMETRY_DISABLED: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown')));

  const listening = listeningLine(options.service);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within ${options.startTimeoutMs ?? 60_000} ms:\n${out}`));
    }, options.startTimeoutMs ?? 60_000);
    const check = () => {
      const match = listening.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      const port = Number(match[1]);
      resolve({
        child,
        port,
        metricsPort: Number(match[2]),
        url: `http://127.0.0.1:${port}`,
        output: () => out,
        logLines: () =>
          out
            .split('\n')
            .map((line) => line.slice(line.indexOf('{')))
            .filter((line) => line.startsWith('{'))
            .flatMap((line) => {
              try {
                return [JSON.parse(line) as Record<string, unknown>];
              } catch {
                return [];
              }
            }),
        exited,
        signal(sig) {
          if (options.group && child.pid) process.kill(-child.pid, sig);
          else child.kill(sig);
        },
      });
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before listening:\n${out}`));
    });
  });
}

/**
 * Starts a service's `src/main.ts` (in `appDir`) as a process and waits until it listens, on
 * loopback and on the ports given (by default port 0 for both: the ports it bound are read from its
 * `listening` line). `env` is the whole environment besides these.
 * @example const notes = await startServiceMain('apps/notes', { DATABASE_URL: db.url, REDIS_URL: redis.url });
 */
export function startServiceMain(
  appDir: string,
  env: Record<string, string>,
  ports: { port: number; metricsPort: number } = { port: 0, metricsPort: 0 },
): Promise<SpawnedService> {
  return spawnService({
    command: sourceCommand('src/main.ts'),
    cwd: appDir,
    env: { HOST: '127.0.0.1', PORT: String(ports.port), METRICS_PORT: String(ports.metricsPort), ...env },
  });
}
