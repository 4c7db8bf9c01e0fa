// Whole-machine scenarios of docs/performance.md (servers and wrk unpinned, both cores shared):
//   S6  one Caddy hop (the real Caddyfile, /api/notes/* -> one instance) vs the instance direct,
//       and Caddy -> 3 instances (round robin)
//   hop a request to service A whose procedure calls service B through the contract client, vs
//       the same request to B direct (a single hop); with the policy stack and without it
//   gc  what a request leaves to the garbage collector in the process wrk calls (B direct, A with
//       and without policies): bytes promoted and scavenge time per request, --trace-gc-nvp
// Interleaved over rounds; every ratio is to the single hop measured in the same round (median,
// min-max). CPU per request sums every process the request goes through. JSON: results/hops.json.
// One file: the scenarios share the servers started once and the loop of rounds that interleaves
// them, which is what makes their ratios comparable.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../packages/infra/src/testing/index.js';
import { median, spread, startServer, wrk, type Running, type Sample } from './measure.js';
import { benchPolicyEngine } from './policy-engine.js';
import { HELLO_PATH, buildPackages } from './shared.js';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROUNDS = Number(arg('rounds') ?? (quick ? 1 : 5));
const WARMUP_S = Number(arg('warmup') ?? (quick ? 0.5 : 3));
const MEASURE_S = Number(arg('seconds') ?? (quick ? 1 : 8));
const REPO = fileURLToPath(new URL('..', import.meta.url));
/** `--base=<dir>`: another built checkout; its hop (A and B both from it) runs beside this one's. */
const BASE = arg('base');

async function startCaddy(upstreams: Running[]): Promise<Running> {
  const [port, metricsPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const data = mkdtempSync(join(tmpdir(), 'switchyard-bench-caddy-'));
  const child: ChildProcess = spawn('caddy', ['run', '--adapter', 'caddyfile', '--config', join(REPO, 'Caddyfile')], {
    cwd: REPO,
    // Access log and all: as shipped, written to /dev/null.
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_DATA_HOME: data,
      XDG_CONFIG_HOME: data,
      GATEWAY_SITE: `:${port}`,
      GATEWAY_METRICS_PORT: String(metricsPort),
      CADDY_ADMIN: `127.0.0.1:${adminPort}`,
      CORS_ORIGINS: 'http://localhost',
      WEB_ROOT: data,
      NOTES_UPSTREAMS: upstreams.map((u) => `127.0.0.1:${u.port}`).join(' '),
    },
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await fetch(`http://127.0.0.1:${port}/api/notes${HELLO_PATH}`).catch(() => undefined);
    if (answer?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`caddy did not route to the instances (last status ${answer?.status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { child, port };
}

interface HopScenario {
  name: string;
  label: string;
  /** The process wrk calls. */
  front: () => Running;
  path: string;
  /** Every process a request goes through after the front one (their CPU counts too). */
  behind: () => Running[];
}

/** A process's scavenges so far, summed from its --trace-gc-nvp lines. */
interface GcTotals {
  scavenges: number;
  /** Bytes moved to the old generation by scavenges. */
  promoted: number;
  /** Scavenge pauses, in ms. */
  pauseMs: number;
}

const PROMOTED = / promoted=(\d+)/;
const PAUSE = / pause=([\d.]+)/;

/** A servers.ts scenario with --trace-gc-nvp (see startServer); `gc()` sums the scavenges printed so far. */
async function startTraced(name: string, env: NodeJS.ProcessEnv, dir: string): Promise<{ running: Running; gc: () => GcTotals }> {
  const file = join(dir, `${name}.gc`);
  const running = await startServer(name, env, false, file);
  const gc = (): GcTotals => {
    const totals: GcTotals = { scavenges: 0, promoted: 0, pauseMs: 0 };
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes(' gc=s ')) continue;
      totals.scavenges++;
      totals.promoted += Number(PROMOTED.exec(line)?.[1] ?? 0);
      totals.pauseMs += Number(PAUSE.exec(line)?.[1] ?? 0);
    }
    return totals;
  };
  return { running, gc };
}

/**
 * What each request leaves to the garbage collector, in the process wrk calls: bytes promoted to
 * the old generation and scavenge time per request (--trace-gc-nvp), for B direct and for A
 * calling B with and without its policies. A request's objects should die young: when a process
 * keeps them (a WeakMap of contexts, settled calls still reachable), they are promoted, and each
 * scavenge copies them first. The hop promoted 4-5 KB per request that way before 3eb86e1. Fresh
 * processes, after the rounds, so that the tracing does not touch the ratios.
 */
async function gcProfile(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const traced: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-gc-'));
  try {
    const b = await startTraced('sy-bare', env, dir);
    traced.push(b.running);
    const target = { ...env, HOP_TARGET: `http://127.0.0.1:${b.running.port}` };
    const a = await startTraced('sy-hop', target, dir);
    traced.push(a.running);
    const aBare = await startTraced('sy-hop-no-policies', target, dir);
    traced.push(aBare.running);
    const result: Record<string, unknown> = {};
    console.log(`\nGC per request in the process wrk calls (--trace-gc-nvp, wrk -t1 -c50, ${MEASURE_S} s after ${WARMUP_S} s)`);
    for (const [name, label, front] of [
      ['direct', 'single hop: B', b],
      ['hop', 'inter-service hop: A, with policies', a],
      ['hop-no-policies', 'inter-service hop: A, without policies', aBare],
    ] as const) {
      await wrk(front.running, HELLO_PATH, WARMUP_S, false, false);
      const before = front.gc();
      const sample = await wrk(front.running, HELLO_PATH, MEASURE_S, false, false);
      // A scavenge at the very end may still be on its way to the file.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = front.gc();
      const per = (n: number) => (sample.requests ? n / sample.requests : 0);
      const row = {
        requests: sample.requests,
        scavenges: after.scavenges - before.scavenges,
        promotedBytesPerRequest: per(after.promoted - before.promoted),
        scavengeMicrosPerRequest: per((after.pauseMs - before.pauseMs) * 1000),
      };
      result[name] = row;
      console.log(
        `${label.padEnd(48)} promoted ${row.promotedBytesPerRequest.toFixed(0).padStart(6)} B/req, scavenges ${row.scavengeMicrosPerRequest.toFixed(2).padStart(6)} us/req (${row.scavenges} scavenges, ${row.requests} requests)`,
      );
    }
    return result;
  } finally {
    for (const r of traced) r.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchHops(): Promise<Record<string, unknown>> {
  if (spawnSync('sh', ['-c', 'command -v wrk && command -v caddy'], { stdio: 'ignore' }).status !== 0) {
    console.log('wrk or caddy missing: apt-get install -y wrk caddy');
    return { skipped: 'wrk or caddy missing' };
  }
  buildPackages();
  const env = { ...process.env };
  const started: Running[] = [];
  const start = async (name: string, extra: NodeJS.ProcessEnv = {}, root?: string) => {
    const running = await startServer(name, { ...env, ...extra }, false, undefined, root);
    started.push(running);
    return running;
  };
  try {
    const b = [await start('sy-bare'), await start('sy-bare'), await start('sy-bare')];
    const target = { HOP_TARGET: `http://127.0.0.1:${b[0]!.port}` };
    const hop = await start('sy-hop', target);
    const hopBare = await start('sy-hop-no-policies', target);
    const bBase = BASE ? await start('sy-bare', {}, BASE) : undefined;
    const hopBase = bBase ? await start('sy-hop', { HOP_TARGET: `http://127.0.0.1:${bBase.port}` }, BASE) : undefined;
    const caddyOne = await startCaddy([b[0]!]);
    started.push(caddyOne);
    const caddyThree = await startCaddy(b);
    started.push(caddyThree);
    const direct: HopScenario = {
      name: 'direct',
      label: 'single hop: wrk -> B',
      front: () => b[0]!,
      path: HELLO_PATH,
      behind: () => [],
    };
    const scenarios: HopScenario[] = [
      {
        name: 'hop',
        label: 'inter-service hop: wrk -> A -> B, contract client with policies',
        front: () => hop,
        path: HELLO_PATH,
        behind: () => [b[0]!],
      },
      {
        name: 'hop-no-policies',
        label: 'inter-service hop, the same client without its policy stack',
        front: () => hopBare,
        path: HELLO_PATH,
        behind: () => [b[0]!],
      },
      {
        name: 'caddy-1',
        label: 'S6 wrk -> Caddy -> B (the shipped Caddyfile)',
        front: () => caddyOne,
        path: `/api/notes${HELLO_PATH}`,
        behind: () => [b[0]!],
      },
      {
        name: 'caddy-3',
        label: 'S6 wrk -> Caddy -> 3 instances of B',
        front: () => caddyThree,
        path: `/api/notes${HELLO_PATH}`,
        behind: () => b,
      },
    ];
    const baseHop: HopScenario | undefined = hopBase && {
      name: 'hop@base',
      label: 'inter-service hop with policies [base]',
      front: () => hopBase,
      path: HELLO_PATH,
      behind: () => [bBase!],
    };
    const measure = (s: HopScenario, seconds: number) =>
      wrk(
        s.front(),
        s.path,
        seconds,
        false,
        false,
        s.behind().map((r) => r.child.pid!),
      );
    for (const s of [direct, ...scenarios, ...(baseHop ? [baseHop] : [])]) await measure(s, WARMUP_S);

    const rows = new Map<string, Array<{ ratio: number; sample: Sample }>>();
    const directs: Sample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const base = await measure(direct, MEASURE_S);
      directs.push(base);
      // The two hops run next to each other, first one then the other, so their ratio (the policy
      // stack's cost) is measured under the same conditions; the Caddy scenarios rotate around them.
      const hops = [scenarios[0]!, scenarios[1]!, ...(baseHop ? [baseHop] : [])];
      const pair = round % 2 === 0 ? hops : hops.reverse();
      const groups = [pair, [scenarios[2]!], [scenarios[3]!]];
      const order = groups.map((_, i) => groups[(i + round) % groups.length]!).flat();
      for (const s of order) {
        const sample = await measure(s, MEASURE_S);
        const list = rows.get(s.name) ?? [];
        list.push({ ratio: sample.perSecond / base.perSecond, sample });
        rows.set(s.name, list);
      }
    }
    const fmt = (n: number, digits = 2) => n.toFixed(digits);
    const result: Record<string, unknown> = {
      rounds: ROUNDS,
      measureSeconds: MEASURE_S,
      machine: 'whole machine: servers and wrk unpinned on 2 cores',
      direct: {
        perSecond: median(directs.map((d) => d.perSecond)),
        cpuMicrosPerRequest: median(directs.map((d) => d.cpuMicrosPerRequest)),
      },
    };
    console.log(
      `\nWhole machine (unpinned), wrk -t1 -c50; ${ROUNDS} rounds of ${MEASURE_S} s; ratios to the single hop of the same round`,
    );
    console.log(`${'scenario'.padEnd(72)} ${'req/s'.padStart(8)}  ratio median (min-max)   CPU us/req (all processes)`);
    console.log(
      `${direct.label.padEnd(72)} ${fmt(median(directs.map((d) => d.perSecond)), 0).padStart(8)}  1.00                     ${fmt(median(directs.map((d) => d.cpuMicrosPerRequest)), 1).padStart(9)}`,
    );
    for (const s of scenarios) {
      const list = rows.get(s.name)!;
      const ratios = list.map((r) => r.ratio);
      const ratio = spread(ratios);
      const perSecond = median(list.map((r) => r.sample.perSecond));
      const cpu = median(list.map((r) => r.sample.cpuMicrosPerRequest));
      const bad = list.reduce((n, r) => n + r.sample.non2xx + r.sample.socketErrors, 0);
      console.log(
        `${s.label.padEnd(72)} ${fmt(perSecond, 0).padStart(8)}  ${fmt(ratio.median)} (${fmt(ratio.min)}-${fmt(ratio.max)})${' '.repeat(12)}${fmt(cpu, 1).padStart(9)}${bad ? `  !! ${bad} non-2xx or socket errors` : ''}`,
      );
      result[s.name] = { label: s.label, ratio, perSecond, cpuMicrosPerRequest: cpu, failures: bad };
    }
    // The policy stack's cost, per round (the two hops run next to each other): fewer req/s, and
    // more CPU per request summed over A and B.
    const withPolicies = rows.get('hop')!.map((r) => r.sample);
    const without = rows.get('hop-no-policies')!.map((r) => r.sample);
    const fewer = spread(withPolicies.map((w, i) => 1 - w.perSecond / without[i]!.perSecond));
    const cpu = spread(withPolicies.map((w, i) => w.cpuMicrosPerRequest / without[i]!.cpuMicrosPerRequest - 1));
    result.policyCost = { fewerRequestsPerSecond: fewer, moreCpuPerRequest: cpu };
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(
      `policy stack on the hop: ${pct(fewer.median)} fewer req/s (${pct(fewer.min)}..${pct(fewer.max)}), ${pct(cpu.median)} more CPU per request, A+B (${pct(cpu.min)}..${pct(cpu.max)})`,
    );
    // Below the noise of those rounds: the policy engine's own CPU per call (policy-engine.ts),
    // over the CPU a hop costs (A and B, with the policies).
    const engine = (await benchPolicyEngine()).addedMicrosPerCall;
    const hopCpu = median(withPolicies.map((w) => w.cpuMicrosPerRequest));
    result.policyEngine = { ...engine, shareOfHopCpu: engine.median / hopCpu };
    console.log(
      `policy engine: +${engine.median.toFixed(2)} us CPU per call (${engine.min.toFixed(2)}..${engine.max.toFixed(2)}) = ${pct(engine.median / hopCpu)} of the hop's ${hopCpu.toFixed(1)} us CPU per request (A+B)`,
    );
    if (baseHop) {
      const after = rows.get('hop')!.map((r) => r.sample.cpuMicrosPerRequest);
      const before = rows.get('hop@base')!.map((r) => r.sample.cpuMicrosPerRequest);
      const change = spread(after.map((cpu, i) => cpu / before[i]!));
      result.hopVersusBase = change;
      console.log(
        `hop, this build / base (${BASE}), CPU per request (A+B): ${fmt(change.median)} (${fmt(change.min)}-${fmt(change.max)})`,
      );
    }
    result.gc = await gcProfile(env);
    mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
    writeFileSync(fileURLToPath(new URL('results/hops.json', import.meta.url)), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const s of started) s.child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchHops();
