// S1, S3, S-bare, S5 and its ablations, S8 of docs/performance.md: each server in its own process
// pinned to core 1, wrk pinned to core 0 (-t1 -c50, keep-alive), interleaved over rounds with raw
// node:http measured at the start and end of every round. Prints ratios to raw node:http (median,
// min-max over rounds), CPU microseconds per request from /proc/<pid>/stat, and idle RSS; writes
// JSON to bench/results/http.json. `--quick`: one short round (keeps the harness working in CI).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ACCESS_TOKEN } from '../packages/infra/src/auth/access-token.js';
import { startTestRedis } from '../packages/infra/src/testing/redis-server.js';
import { PAGE_PATH, buildPackages } from './shared.js';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROUNDS = Number(arg('rounds') ?? (quick ? 1 : 5));
const WARMUP_S = Number(arg('warmup') ?? (quick ? 0.5 : 3));
const MEASURE_S = Number(arg('seconds') ?? (quick ? 1 : 8));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const SERVERS = fileURLToPath(new URL('servers.ts', import.meta.url));
/**
 * `--base=<dir>`: another checkout of the repository, installed and built (`npm ci && npm run
 * build` there). Each Switchyard scenario runs from it too, interleaved with this one in every
 * round, and the table ends with this build's CPU per request over the base's.
 */
const BASE = arg('base');

interface Scenario {
  name: string;
  /** The checkout whose servers.ts serves it: this one unless `--base` set it. */
  root?: string;
  /** The server process it runs against (servers.ts scenario); default: `name`. */
  server?: string;
  label: string;
  /** The request path, given the server's token. */
  path: string;
  auth?: boolean;
  /** Requests per page: req/s is divided by it (S8). */
  perPage?: number;
}

const serverOf = (s: Scenario) => `${s.server ?? s.name.replace(/@base$/, '')}${s.root ? '@base' : ''}`;
const hello = encodeURIComponent(JSON.stringify({ name: 'bench' }));
const helloJson = encodeURIComponent(JSON.stringify({ json: { name: 'bench' } }));
const SCENARIOS: Scenario[] = [
  { name: 'trpc-standalone', label: 'S3 stock tRPC standalone adapter (zod input)', path: `/hello?input=${hello}` },
  { name: 'trpc-express', label: 'S3 stock tRPC express adapter', path: `/hello?input=${hello}` },
  {
    name: 'sy-bare',
    label: 'S-bare Switchyard procedure (request id, metrics, access log)',
    path: `/trpc/hello?input=${helloJson}`,
  },
  { name: 'sy-bare-stock', label: '  ablation: S-bare on the stock tRPC adapter', path: `/trpc/hello?input=${helloJson}` },
  {
    name: 'sy-full',
    label: 'S5 full stack (JWT + zod + Redis limit + metrics + log + superjson)',
    path: `/trpc/hello?input=${helloJson}`,
    auth: true,
  },
  {
    name: 'sy-full-stock',
    label: '  ablation: S5 on the stock tRPC adapter',
    path: `/trpc/hello?input=${helloJson}`,
    auth: true,
  },
  {
    name: 'sy-full-no-jwt-cache',
    label: '  ablation: S5 without the JWT cache',
    path: `/trpc/hello?input=${helloJson}`,
    auth: true,
  },
  {
    name: 'sy-full-no-ratelimit',
    label: '  ablation: S5 without the Redis rate limit',
    path: `/trpc/hello?input=${helloJson}`,
    auth: true,
  },
  { name: 'sy-full-no-log', label: '  ablation: S5 without the access log', path: `/trpc/hello?input=${helloJson}`, auth: true },
  { name: 'sy-full-no-auth', label: '  ablation: S5 without JWT (public procedure)', path: `/trpc/hello?input=${helloJson}` },
  {
    name: 'page-batched',
    server: 'sy-bare',
    label: 'S8 a page of 10 queries, batched: pages/s (1 request per page)',
    path: PAGE_PATH,
  },
  {
    name: 'page-unbatched',
    server: 'sy-bare',
    label: 'S8 the same page unbatched: pages/s (10 requests per page)',
    path: `/trpc/hello?input=${helloJson}`,
    perPage: 10,
  },
]
  .filter((s) => !only || only.includes(s.name))
  .flatMap((s) =>
    BASE && /^(sy-|page-)/.test(s.name) ? [s, { ...s, name: `${s.name}@base`, label: `${s.label} [base]`, root: BASE }] : [s],
  );

export interface Running {
  child: ChildProcess;
  port: number;
}

// Access tokens: the servers trust this key's public half; a fresh token for each measurement.
const keys = await generateKeyPair('ES256');
const PUBLIC_JWK = JSON.stringify(await exportJWK(keys.publicKey));
const freshToken = () =>
  new SignJWT({ roles: [] })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .setIssuer(ACCESS_TOKEN.issuer)
    .setAudience(ACCESS_TOKEN.audience)
    .sign(keys.privateKey);

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

function rssMb(pid: number): number {
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
const fmt = (n: number, digits = 2) => n.toFixed(digits);

export async function benchHttp(): Promise<Record<string, unknown>> {
  if (spawnSync('sh', ['-c', 'command -v wrk && command -v taskset'], { stdio: 'ignore' }).status !== 0) {
    console.log('wrk or taskset missing: apt-get install -y wrk util-linux');
    return { skipped: 'wrk or taskset missing' };
  }
  buildPackages();
  const redis = await startTestRedis();
  const env = { ...process.env, REDIS_URL: redis.url, BENCH_PUBLIC_JWK: PUBLIC_JWK };
  const servers = new Map<string, Running>();
  try {
    for (const scenario of [{ name: 'raw', path: '/' } as Scenario, ...SCENARIOS]) {
      const name = serverOf(scenario);
      if (!servers.has(name)) servers.set(name, await startServer(name, env, true, undefined, scenario.root));
    }
    // Check each answer once, then warm up.
    for (const scenario of [{ name: 'raw', path: '/', auth: false } as Scenario, ...SCENARIOS]) {
      const server = servers.get(serverOf(scenario))!;
      const res = await fetch(`http://127.0.0.1:${server.port}${scenario.path}`, {
        headers: scenario.auth ? { authorization: `Bearer ${await freshToken()}` } : {},
      });
      const body = await res.text();
      if (res.status !== 200 || !body.includes('hello')) throw new Error(`${scenario.name} answered ${res.status}: ${body}`);
      await wrk(server, scenario.path, WARMUP_S, scenario.auth ?? false);
    }
    const idleRss = Object.fromEntries(SCENARIOS.map((sc) => [sc.name, rssMb(servers.get(serverOf(sc))!.child.pid!)]));
    idleRss.raw = rssMb(servers.get('raw')!.child.pid!);

    const raw = servers.get('raw')!;
    type Row = { ratio: number[]; cpuRatio: number[]; perSecond: number[]; cpu: number[]; non2xx: number; errors: number };
    const rows = new Map<string, Row>();
    const rowOf = (name: string) => {
      let row = rows.get(name);
      if (!row) rows.set(name, (row = { ratio: [], cpuRatio: [], perSecond: [], cpu: [], non2xx: 0, errors: 0 }));
      return row;
    };
    const rawRows: Sample[] = [];
    let discarded = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const start = await wrk(raw, '/', MEASURE_S, false);
      const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round) % SCENARIOS.length]!);
      const samples: Array<readonly [Scenario, Sample]> = [];
      for (const scenario of order) {
        const sample = await wrk(servers.get(serverOf(scenario))!, scenario.path, MEASURE_S, scenario.auth ?? false);
        const perPage = scenario.perPage ?? 1;
        samples.push([
          scenario,
          { ...sample, perSecond: sample.perSecond / perPage, cpuMicrosPerRequest: sample.cpuMicrosPerRequest * perPage },
        ]);
      }
      const end = await wrk(raw, '/', MEASURE_S, false);
      rawRows.push(start, end);
      // CPU time per request is what steal from other VMs does not distort: the CPU ratio,
      // raw's CPU per request over the scenario's, is kept for every round. Throughput ratios only
      // for rounds where raw node:http held within 5%.
      const rawCpuRound = (start.cpuMicrosPerRequest + end.cpuMicrosPerRequest) / 2;
      for (const [scenario, sample] of samples) {
        const row = rowOf(scenario.name);
        row.cpuRatio.push(rawCpuRound / sample.cpuMicrosPerRequest);
        row.cpu.push(sample.cpuMicrosPerRequest);
        row.non2xx += sample.non2xx;
        row.errors += sample.socketErrors;
      }
      const drift = Math.abs(start.perSecond - end.perSecond) / Math.max(start.perSecond, end.perSecond);
      if (drift > 0.05 && ROUNDS >= 3) {
        discarded++;
        console.log(
          `round ${round + 1}: raw node:http drifted ${fmt(drift * 100, 1)}% between start and end: its req/s ratios discarded`,
        );
        continue;
      }
      const base = (start.perSecond + end.perSecond) / 2;
      for (const [scenario, sample] of samples) {
        const row = rowOf(scenario.name);
        row.ratio.push(sample.perSecond / base);
        row.perSecond.push(sample.perSecond);
      }
    }

    const rawMedian = median(rawRows.map((r) => r.perSecond));
    const rawCpu = median(rawRows.map((r) => r.cpuMicrosPerRequest));
    console.log(
      `\nHTTP, server pinned to core 1, wrk -t1 -c50 on core 0; ${ROUNDS} rounds of ${MEASURE_S} s (${discarded} discarded)`,
    );
    const spreadOf = (xs: number[]) => (xs.length ? spread(xs) : undefined);
    const show = (r: { median: number; min: number; max: number } | undefined) =>
      (r ? `${fmt(r.median)} (${fmt(r.min)}-${fmt(r.max)})` : '-').padEnd(18);
    console.log(
      `${'scenario'.padEnd(72)} ${'req/s'.padStart(8)}  ${'req/s ratio'.padEnd(18)}  ${'CPU ratio'.padEnd(18)}  CPU us/req  RSS MB`,
    );
    console.log(
      `${'S1 raw node:http JSON hello'.padEnd(72)} ${fmt(rawMedian, 0).padStart(8)}  ${'1.00'.padEnd(18)}  ${'1.00'.padEnd(18)}  ${fmt(rawCpu, 1).padStart(9)}  ${fmt(idleRss.raw!, 0)}`,
    );
    const result: Record<string, unknown> = {
      rounds: ROUNDS,
      measureSeconds: MEASURE_S,
      discarded,
      raw: { perSecond: rawMedian, cpuMicrosPerRequest: rawCpu },
    };
    for (const scenario of SCENARIOS) {
      const row = rows.get(scenario.name);
      if (!row) continue;
      const ratio = spreadOf(row.ratio);
      const cpuRatio = spreadOf(row.cpuRatio);
      const perSecond = row.perSecond.length ? median(row.perSecond) : 0;
      console.log(
        `${scenario.label.padEnd(72)} ${fmt(perSecond, 0).padStart(8)}  ${show(ratio)}  ${show(cpuRatio)}  ${fmt(median(row.cpu), 1).padStart(9)}  ${fmt(idleRss[scenario.name]!, 0)}${row.non2xx || row.errors ? `  !! ${row.non2xx} non-2xx, ${row.errors} socket errors` : ''}`,
      );
      result[scenario.name] = {
        label: scenario.label.trim(),
        ratio,
        cpuRatio,
        perSecond,
        cpuMicrosPerRequest: median(row.cpu),
        rssMbAfterWarmup: idleRss[scenario.name],
        non2xx: row.non2xx,
        socketErrors: row.errors,
      };
    }
    const batched = rows.get('page-batched');
    const unbatched = rows.get('page-unbatched');
    if (batched && unbatched) {
      // Pages per second (rounds kept by the drift gate) and CPU per page (every round).
      const ratios = spreadOf(batched.perSecond.map((b, i) => b / unbatched.perSecond[i]!));
      const cpuRatios = spreadOf(batched.cpu.map((b, i) => unbatched.cpu[i]! / b));
      result.pageBatchedOverUnbatched = { ratio: ratios, cpuRatio: cpuRatios };
      console.log(`S8 batched / unbatched: pages per second ${show(ratios).trim()}, CPU per page ${show(cpuRatios).trim()}`);
    }
    if (BASE) {
      // CPU per request of this build over the base's, round by round: the guard is the pair, not a ratio to raw.
      console.log(`\nthis build / base (${BASE}), CPU per request, median (min-max) over ${ROUNDS} rounds:`);
      const versus: Record<string, unknown> = {};
      for (const scenario of SCENARIOS) {
        const before = rows.get(`${scenario.name}@base`);
        const after = rows.get(scenario.name);
        if (!before || !after || scenario.root) continue;
        const change = spread(after.cpu.map((cpu, i) => cpu / before.cpu[i]!));
        versus[scenario.name] = change;
        console.log(`  ${scenario.label.trim().padEnd(70)} ${show(change).trim()}`);
      }
      result.versusBase = versus;
    }
    mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
    writeFileSync(fileURLToPath(new URL('results/http.json', import.meta.url)), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const server of servers.values()) server.child.kill('SIGKILL');
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchHttp();
