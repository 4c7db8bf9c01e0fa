// What the HTTP benchmarks share: a servers.ts scenario in its own process (pinned or not), a wrk
// run against it with the server's CPU time per request read from /proc/<pid>/stat, and the
// median, min and max over rounds.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freshToken } from './tokens.js';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const SERVERS = fileURLToPath(new URL('servers.ts', import.meta.url));

export interface Running {
  child: ChildProcess;
  port: number;
}

/**
 * Starts a servers.ts scenario: pinned to core 1, or (`pin` false) free on the whole machine.
 * With `gcTrace`, node runs with --trace-gc-nvp and its output goes to that file, not to a pipe:
 * wrk runs synchronously, so nothing would read a pipe meanwhile, and a full one stops the server.
 * stdbuf makes it line-buffered (V8 prints through C stdio).
 */
export function startServer(name: string, env: NodeJS.ProcessEnv, pin = true, gcTrace?: string, root?: string): Promise<Running> {
  const command = [
    ...(gcTrace ? ['stdbuf', '-oL'] : []),
    process.execPath,
    ...(gcTrace ? ['--trace-gc-nvp'] : []),
    '--import',
    'tsx',
    root ? join(root, 'bench/servers.ts') : SERVERS,
    name.replace(/@base$/, ''),
  ];
  const out = gcTrace ? openSync(gcTrace, 'w') : 'pipe';
  const child = spawn(pin ? 'taskset' : command[0]!, pin ? ['-c', '1', ...command] : command.slice(1), {
    ...(root ? { cwd: root } : {}),
    env: { ...env, NODE_ENV: 'production' },
    stdio: ['ignore', out, 'inherit'],
  });
  if (typeof out === 'number') closeSync(out);
  return new Promise((resolve, reject) => {
    const ready = (line: string) => {
      const match = /^READY (\d+)/m.exec(line);
      if (match) resolve({ child, port: Number(match[1]) });
      return match !== null;
    };
    if (child.stdout) createInterface({ input: child.stdout }).on('line', ready);
    else {
      const poll = setInterval(() => ready(readFileSync(gcTrace!, 'utf8')) && clearInterval(poll), 100);
      child.once('exit', () => clearInterval(poll));
    }
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it listened`)));
  });
}

export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

export interface Sample {
  perSecond: number;
  requests: number;
  cpuMicrosPerRequest: number;
  non2xx: number;
  socketErrors: number;
}

/**
 * One wrk run (keep-alive, -t1 -c50): pinned to core 0, or (`pin` false) free. CPU per request is
 * the server's, plus that of `alsoPids` (the other processes a request goes through).
 */
export async function wrk(
  server: Running,
  path: string,
  seconds: number,
  auth: boolean,
  pin = true,
  alsoPids: number[] = [],
): Promise<Sample> {
  const args = ['-t1', '-c50', `-d${seconds}s`, '--timeout', '5s'];
  if (auth) args.push('-H', `Authorization: Bearer ${await freshToken()}`);
  const pids = [server.child.pid!, ...alsoPids];
  const ticks = () => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const before = ticks();
  args.push(`http://127.0.0.1:${server.port}${path}`);
  const run = pin
    ? spawnSync('taskset', ['-c', '0', 'wrk', ...args], { encoding: 'utf8' })
    : spawnSync('wrk', args, { encoding: 'utf8' });
  const after = ticks();
  const out = run.stdout;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    requests,
    cpuMicrosPerRequest: requests ? (((after - before) / CLK_TCK) * 1e6) / requests : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Median, min and max of a non-empty list. */
export const spread = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
