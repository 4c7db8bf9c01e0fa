// The policy stack's cost in an inter-service call, counted in machine instructions rather than
// timed: wall-clock and CPU-time pairs on a shared VM spread by +-5-10%, wider than the 2% to resolve.
// valgrind's callgrind counts the instructions a process executes, which repeats for the same
// binary, inputs and work, whatever else the machine does. Both ends run under callgrind: a caller
// process making calls through the contract client (with its policy stack, or `policies: false`:
// the same transport, identity, request id, trace headers and metrics) and the downstream (sy-bare
// of servers.ts) serving them. After a warm-up (so the JIT has compiled the path), both counters
// are zeroed, a fixed number of calls is made, and both are dumped: instructions per call =
// (caller + downstream) / calls. V8's one-time work (compiling, deoptimizing), which goes on now
// and then after any warm-up, is left out and printed; a full GC is kept out of the window by a
// large old space (counted from --trace-gc and printed). Two shapes, each deterministic in its
// batching:
//   one at a time     each call its own HTTP request
//   16 per batch      waves of 16 calls of 16 different requests (own request id, deadline, trace),
//                     sent together in one batch (x-switchyard-calls), the next wave when all answer
//   hop               a service (sy-hop of servers.ts) whose procedure calls the downstream: a
//                     driver outside valgrind sends it one request at a time; the cost of the
//                     hop is the service's and the downstream's (what the
//                     policies add to a request that crosses two services)
// Each variant runs `--runs` times in fresh process pairs (A B B A ...), so the spread between runs
// of the same variant is shown beside the difference between variants.
// `--quick`: one shape, one run, few calls (keeps the harness working; its figures mean little).
// `--runs=N --warmup=N --calls=N --shapes=single,wave,hop`. JSON: results/policy-instructions.json.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { countWindow, lineReader, requireCallgrind, underCallgrind, waitFor, type Proc } from './callgrind.js';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { createServiceClient } from '@switchyard/infra/client';
import { helloContract } from './hello-contract.js';
import { median, spread } from './measure.js';
import { HELLO_PATH, HOP_KEY, buildPackages, getOneAtATime } from './shared.js';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const RUNS = Number(arg('runs') ?? (quick ? 1 : 2));
// Warm-up: without valgrind, V8 was still compiling the callers' functions up to ~12,000 calls
// one at a time (--trace-opt --trace-deopt: 60-70 compilations and deopts between 2,000 and
// 10,000 calls, then a few). Window:
// 10,000 calls, ~18 scavenges one at a time: a window of 2,000 held ~4, and one more in one
// variant's window was most of the difference (16 per batch, the scavenger's own instructions:
// +2,100 and +3,300 per call with policies in two 2,000-call windows; +70 and +310 in 10,000).
const WARMUP = Number(arg('warmup') ?? (quick ? 300 : 12_000));
const CALLS = Number(arg('calls') ?? (quick ? 200 : 10_000));
const SELF = fileURLToPath(import.meta.url);
const SERVERS = fileURLToPath(new URL('servers.ts', import.meta.url));
const WAVE = 16;

type Variant = 'bare' | 'policies';
type Shape = 'single' | 'wave' | 'hop';

// --- the caller process -----------------------------------------------------------------------
async function caller(variant: Variant, shape: Shape): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const next = lineReader(lines);
  // Started beside the downstream (both load for a while under callgrind): its URL comes on stdin.
  process.stdout.write('LOADED\n');
  const url = await next();
  const client = createServiceClient({
    target: 'downstream',
    contract: helloContract,
    url,
    caller: { service: 'hop', key: HOP_KEY },
    ...(variant === 'bare' ? { policies: false as const } : {}),
  });
  // Request ids as a service holds them: flat strings, as read from a header. An id built by
  // concatenation per call is a ConsString, which V8 flattens in its runtime at the first RegExp
  // test (~2,000 instructions a call in both variants, in the caller alone, that no service pays).
  // These 1,000 are flattened at their first use, in the warm-up.
  const requestIds = Array.from({ length: 1_000 }, (_, i) => `bench-request-${String(i).padStart(6, '0')}`);
  let n = 0;
  const call = () =>
    client
      .with({
        requestId: requestIds[n++ % requestIds.length]!,
        deadlineAt: performance.now() + 60_000,
        otel: ROOT_CONTEXT,
      })
      .hello.query({ name: 'bench' });
  const run = async (calls: number) => {
    if (shape === 'single') for (let i = 0; i < calls; i++) await call();
    else for (let i = 0; i < calls; i += WAVE) await Promise.all(Array.from({ length: WAVE }, call));
  };
  await run(WARMUP);
  process.stdout.write('WARM\n');
  await next();
  await run(CALLS);
  process.stdout.write('DONE\n');
  await next();
  process.exit(0);
}

interface ShapeResult {
  bareInstructionsPerCall: number;
  policiesInstructionsPerCall: number;
  added: number;
  callerAdded: number;
  spreadBare: { min: number; max: number };
  spreadPolicies: { min: number; max: number };
  oneTimeLeftOut: { min: number; max: number };
  majorGcsInWindows: number;
}

interface Measurement {
  /** Instructions per call in each process, V8's one-time work left out. */
  caller: number;
  downstream: number;
  /** V8's one-time work per call in the window (both processes), left out of the above. */
  oneTime: number;
  /** Full collections in the measured window (both processes). */
  majorGcs: number;
}

/** The hop: the service calling the downstream (the "caller") and the downstream, under callgrind; requests from here. */
async function measureHop(variant: Variant, dir: string, downstream: Proc): Promise<Measurement> {
  const target = Number((await waitFor(downstream, /^READY (\d+)/, 'the downstream'))[1]);
  const hop = underCallgrind(dir, 'caller', ['--import', 'tsx', SERVERS, variant === 'bare' ? 'sy-hop-no-policies' : 'sy-hop'], {
    HOP_TARGET: `http://127.0.0.1:${target}`,
  });
  try {
    const port = Number((await waitFor(hop, /^READY (\d+)/, 'the hop service'))[1]);
    await getOneAtATime(port, HELLO_PATH, WARMUP);
    return await perCall(dir, hop, downstream, () => getOneAtATime(port, HELLO_PATH, CALLS));
  } finally {
    hop.child.kill('SIGKILL');
  }
}

/** The measured window ({@link countWindow}) of the `CALLS` calls made by `calls`: instructions per call of each process. */
async function perCall(dir: string, callerProc: Proc, downstream: Proc, calls: () => Promise<void>): Promise<Measurement> {
  const { counts, majorGcs } = await countWindow(dir, { caller: callerProc, downstream }, calls);
  return {
    caller: (counts.caller.total - counts.caller.oneTime) / CALLS,
    downstream: (counts.downstream.total - counts.downstream.oneTime) / CALLS,
    oneTime: (counts.caller.oneTime + counts.downstream.oneTime) / CALLS,
    majorGcs,
  };
}

/** One measurement in a fresh pair of processes: instructions per call, caller and downstream. */
async function measure(variant: Variant, shape: Shape): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-callgrind-'));
  const downstream = underCallgrind(dir, 'downstream', ['--import', 'tsx', SERVERS, 'sy-bare']);
  try {
    if (shape === 'hop') return await measureHop(variant, dir, downstream);
    const callerProc = underCallgrind(dir, 'caller', [
      '--import',
      'tsx',
      SELF,
      '--caller',
      variant,
      shape,
      `--warmup=${WARMUP}`,
      `--calls=${CALLS}`,
    ]);
    try {
      const port = Number((await waitFor(downstream, /^READY (\d+)/, 'the downstream'))[1]);
      await waitFor(callerProc, /^LOADED$/, 'the caller');
      callerProc.child.stdin!.write(`http://127.0.0.1:${port}\n`);
      await waitFor(callerProc, /^WARM$/, 'the caller');
      return await perCall(dir, callerProc, downstream, async () => {
        callerProc.child.stdin!.write('go\n');
        await waitFor(callerProc, /^DONE$/, 'the caller');
      });
    } finally {
      callerProc.child.kill('SIGKILL');
    }
  } finally {
    downstream.child.kill('SIGKILL');
  }
}

export async function benchPolicyInstructions(): Promise<Record<string, unknown>> {
  requireCallgrind();
  buildPackages();
  const results: Record<string, unknown> = {};
  const shapes = (arg('shapes')?.split(',') ?? (quick ? ['single'] : ['single', 'wave', 'hop'])) as Shape[];
  for (const shape of shapes) {
    const runs: Record<Variant, Measurement[]> = { bare: [], policies: [] };
    for (let run = 0; run < RUNS; run++) {
      const order: Variant[] = run % 2 === 0 ? ['bare', 'policies'] : ['policies', 'bare'];
      for (const variant of order) runs[variant].push(await measure(variant, shape));
    }
    const total = (r: Measurement) => r.caller + r.downstream;
    const bare = median(runs.bare.map(total));
    const withPolicies = median(runs.policies.map(total));
    const all = [...runs.bare, ...runs.policies];
    results[shape] = {
      runs,
      bareInstructionsPerCall: Math.round(bare),
      policiesInstructionsPerCall: Math.round(withPolicies),
      addedPerCall: Math.round(withPolicies - bare),
      added: (withPolicies - bare) / bare,
      callerAdded: median(runs.policies.map((r) => r.caller)) / median(runs.bare.map((r) => r.caller)) - 1,
      spreadBare: spread(runs.bare.map(total)),
      spreadPolicies: spread(runs.policies.map(total)),
      oneTimeLeftOut: spread(all.map((r) => r.oneTime)),
      majorGcsInWindows: all.reduce((sum, r) => sum + r.majorGcs, 0),
    };
  }
  return {
    scenario: 'policy stack, instructions per inter-service call (callgrind)',
    warmup: WARMUP,
    calls: CALLS,
    runs: RUNS,
    results,
  };
}

if (process.argv[2] === '--caller') {
  await caller(process.argv[3] as Variant, process.argv[4] as Shape);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchPolicyInstructions();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
  writeFileSync(
    fileURLToPath(new URL('results/policy-instructions.json', import.meta.url)),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  const range = (s: { min: number; max: number }) => (k(s.min) === k(s.max) ? k(s.min) : `${k(s.min)}-${k(s.max)}`);
  const labels: Record<Shape, string> = {
    single: 'one call at a time',
    wave: '16 calls of 16 requests per batch',
    hop: 'a request through a service calling the downstream (the hop)',
  };
  for (const [shape, r] of Object.entries(result.results as Record<Shape, ShapeResult>)) {
    process.stdout.write(
      `policy stack, instructions per call (callgrind, caller + downstream, ${RUNS} runs of ${CALLS} calls), ${labels[shape as Shape]}: ` +
        `without ${k(r.bareInstructionsPerCall)} (runs ${range(r.spreadBare)}), with ${k(r.policiesInstructionsPerCall)} (runs ${range(r.spreadPolicies)}): ` +
        `${r.added >= 0 ? '+' : ''}${(r.added * 100).toFixed(2)}% (caller alone ${r.callerAdded >= 0 ? '+' : ''}${(r.callerAdded * 100).toFixed(2)}%); ` +
        `V8 compilation left out ${range(r.oneTimeLeftOut)} per call, full GCs in the windows: ${r.majorGcsInWindows}\n`,
    );
  }
}
