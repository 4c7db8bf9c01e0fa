// S1, S3, S-bare, S5 and its ablations, S8 of docs/performance.md: each server in its own process
// pinned to core 1, wrk pinned to core 0 (-t1 -c50, keep-alive), interleaved over rounds with raw
// node:http measured at the start and end of every round. Prints ratios to raw node:http (median,
// min-max over rounds), CPU microseconds per request from /proc/<pid>/stat, and idle RSS; writes
// JSON to bench/results/http.json. `--quick`: one short round (keeps the harness working in CI).
// `--base=<dir>`: another checkout of the repository, installed and built (`npm ci && npm run
// build` there); each Switchyard scenario runs from it too, interleaved with this one in every
// round, and the table ends with this build's CPU per request over the base's. `--ablate=all` (or
// a list of bypass names): what each engine bypass earns (see http-ablation.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestRedis } from '../packages/infra/src/testing/redis-server.js';
import { AblationPairs, ablationServers, ablationsOf } from './http-ablation.js';
import { emptyRow, reportHttp, type Row } from './http-report.js';
import { httpScenarios, scriptOf, serverOf, type Scenario } from './http-scenarios.js';
import { median, rssMb, startServer, wrk, type Running, type Sample } from './measure.js';
import { buildPackages } from './shared.js';
import { PUBLIC_JWK, freshToken } from './tokens.js';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROUNDS = Number(arg('rounds') ?? (quick ? 1 : 5));
const WARMUP_S = Number(arg('warmup') ?? (quick ? 0.5 : 3));
const MEASURE_S = Number(arg('seconds') ?? (quick ? 1 : 8));
const BASE = arg('base');
const SCENARIOS = httpScenarios(arg('only')?.split(','), BASE);
const ABLATIONS = ablationsOf(arg('ablate'));
const RAW: Scenario = { name: 'raw', label: 'raw', path: '/' };

export async function benchHttp(): Promise<Record<string, unknown>> {
  if (spawnSync('sh', ['-c', 'command -v wrk && command -v taskset'], { stdio: 'ignore' }).status !== 0) {
    console.log('wrk or taskset missing: apt-get install -y wrk util-linux');
    return { skipped: 'wrk or taskset missing' };
  }
  buildPackages();
  const redis = await startTestRedis();
  const env = { ...process.env, REDIS_URL: redis.url, BENCH_PUBLIC_JWK: PUBLIC_JWK };
  const servers = new Map<string, Running>();
  const start = async (key: string, scenario: Scenario, off?: string) => {
    if (servers.has(key)) return;
    const serverEnv = off ? { ...env, SWITCHYARD_ENGINE_OFF: off } : env;
    servers.set(key, await startServer(scriptOf(scenario), serverEnv, true, undefined, scenario.root));
  };
  try {
    for (const scenario of [RAW, ...SCENARIOS]) await start(serverOf(scenario), scenario);
    const ablationRuns = ablationServers(ABLATIONS);
    for (const { key, scenario, off } of ablationRuns) await start(key, scenario, off);
    // Check each answer once, then warm up.
    const checks = [...[RAW, ...SCENARIOS].map((scenario) => ({ key: serverOf(scenario), scenario })), ...ablationRuns];
    for (const { key, scenario } of checks) {
      const server = servers.get(key)!;
      const res = await fetch(`http://127.0.0.1:${server.port}${scenario.path}`, {
        headers: scenario.auth ? { authorization: `Bearer ${await freshToken()}` } : {},
      });
      const body = await res.text();
      if (res.status !== 200 || !body.includes('hello')) throw new Error(`${key} answered ${res.status}: ${body}`);
      await wrk(server, scenario.path, WARMUP_S, scenario.auth ?? false);
    }
    const idleRss = Object.fromEntries(SCENARIOS.map((sc) => [sc.name, rssMb(servers.get(serverOf(sc))!.child.pid!)]));
    const raw = servers.get('raw')!;
    const rawIdleRss = rssMb(raw.child.pid!);
    const rows = new Map<string, Row>();
    const rowOf = (name: string) => rows.get(name) ?? rows.set(name, emptyRow()).get(name)!;
    const ablation = new AblationPairs(ABLATIONS);
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
      await ablation.measure(servers, MEASURE_S, round);
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
          `round ${round + 1}: raw node:http drifted ${(drift * 100).toFixed(1)}% between start and end: its req/s ratios discarded`,
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

    console.log(
      `\nHTTP, server pinned to core 1, wrk -t1 -c50 on core 0; ${ROUNDS} rounds of ${MEASURE_S} s (${discarded} discarded)`,
    );
    const rawFigures = {
      perSecond: median(rawRows.map((r) => r.perSecond)),
      cpuMicrosPerRequest: median(rawRows.map((r) => r.cpuMicrosPerRequest)),
      rssMb: rawIdleRss,
    };
    const result = {
      rounds: ROUNDS,
      measureSeconds: MEASURE_S,
      discarded,
      ...reportHttp({ scenarios: SCENARIOS, rows, raw: rawFigures, idleRss, base: BASE, rounds: ROUNDS }),
      ...(ABLATIONS.length ? { bypasses: ablation.report() } : {}),
    };
    mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
    writeFileSync(fileURLToPath(new URL('results/http.json', import.meta.url)), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const server of servers.values()) server.child.kill('SIGKILL');
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchHttp();
