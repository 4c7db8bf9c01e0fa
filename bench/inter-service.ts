// S7: an inter-service call through the contract client with its policy stack (deadline, retry,
// breaker, bulkhead) against the same client without it (`policies: false`: the same transport,
// identity, request id, trace headers and metrics). A stock tRPC client
// (httpBatchLink + superjson, the global fetch) is measured beside them for reference. All call
// the same downstream process; variants are interleaved over rounds; ratios are median (min-max).
import { spawnSync } from 'node:child_process';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { RouterOf } from '@switchyard/api-contracts';
import { createServiceClient } from '@switchyard/infra/client';
import { helloContract } from './hello-contract.js';
import { median, spread, startServer } from './measure.js';
import { HOP_KEY, buildPackages } from './shared.js';

const now = () => performance.now();

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 11;
const SECONDS = quick ? 0.5 : 2;
const CONCURRENCY = 16;

type Caller = () => Promise<unknown>;

async function measure(call: Caller, seconds: number): Promise<{ perSecond: number; cpuMicrosPerCall: number }> {
  let calls = 0;
  const stopAt = now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (now() < stopAt) {
        await call();
        calls++;
      }
    }),
  );
  const elapsed = (now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: calls / elapsed, cpuMicrosPerCall: (cpu.user + cpu.system) / calls };
}

/** One call at a time: the median latency in microseconds. */
async function latency(call: Caller, calls: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = now();
    await call();
    samples.push((now() - t0) * 1000);
  }
  return median(samples);
}

/** Pins the caller (this process) to core 0 and the downstream to core 1 when taskset exists (the server on one core, the load on the other). */
const pinned = spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

export async function benchInterService(): Promise<Record<string, unknown>> {
  // The compiled packages, as production runs them: sy-bare of servers.ts is the downstream.
  buildPackages();
  const downstream = await startServer('sy-bare', process.env, pinned);
  const url = `http://127.0.0.1:${downstream.port}`;
  const child = downstream.child;
  try {
    const stockClient = () =>
      createTRPCClient<RouterOf<typeof helloContract>>({
        links: [httpBatchLink({ url: `${url}/trpc`, transformer: superjson, maxItems: 64 })],
      });
    const caller = { service: 'hop', key: HOP_KEY };
    const mesh = createServiceClient({ target: 'downstream', contract: helloContract, url, caller });
    const bare = createServiceClient({ target: 'downstream', contract: helloContract, url, caller, policies: false });
    // The control: a second client without policies, measured against the first as the policy
    // stack is; what it shows is the harness's own spread between two identical clients.
    const bare2 = createServiceClient({ target: 'downstream', contract: helloContract, url, caller, policies: false });
    const shared = { requestId: 'bench-request-000001', deadlineAt: now() + 3_600_000, otel: ROOT_CONTEXT };
    const fresh = () => ({ requestId: 'bench-request-000001', deadlineAt: now() + 5_000, otel: ROOT_CONTEXT });
    const PAIRS = [
      // Calls made while serving one request share its context, so concurrent ones share a batch.
      ['batched', 'bareBatched', 'meshBatched'],
      // Calls made while serving different requests: each its own context (request id, deadline,
      // trace), concurrent ones sharing batches through x-switchyard-calls.
      ['per-request', 'barePerRequest', 'meshPerRequest'],
      ['control (two clients without policies)', 'barePerRequest', 'bare2PerRequest'],
    ] as const;
    const variants: Record<string, Caller> = {
      bareBatched: () => bare.with(shared).hello.query({ name: 'bench' }),
      meshBatched: () => mesh.with(shared).hello.query({ name: 'bench' }),
      barePerRequest: () => bare.with(fresh()).hello.query({ name: 'bench' }),
      bare2PerRequest: () => bare2.with(fresh()).hello.query({ name: 'bench' }),
      meshPerRequest: () => mesh.with(fresh()).hello.query({ name: 'bench' }),
      stockPerRequest: () => stockClient().hello.query({ name: 'bench' }),
    };
    for (const call of Object.values(variants)) await measure(call, quick ? 0.2 : 1); // warm-up
    const rounds: Array<Record<string, { perSecond: number; cpuMicrosPerCall: number }>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const result: Record<string, { perSecond: number; cpuMicrosPerCall: number }> = {};
      // Keyed by pair: the control measures the same client without policies again.
      for (const [label, bareName, meshName] of PAIRS) {
        const order = round % 2 === 0 ? [bareName, meshName] : [meshName, bareName];
        for (const name of order) result[`${label}/${name}`] = await measure(variants[name]!, SECONDS);
      }
      result.stockPerRequest = await measure(variants.stockPerRequest!, SECONDS);
      rounds.push(result);
    }
    const latencies: Array<{ bare: number; mesh: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const calls = quick ? 50 : 400;
      const order = round % 2 === 0 ? (['bare', 'mesh'] as const) : (['mesh', 'bare'] as const);
      const sample = { bare: 0, mesh: 0 };
      for (const name of order)
        sample[name] = await latency(name === 'bare' ? variants.barePerRequest! : variants.meshPerRequest!, calls);
      latencies.push(sample);
    }
    return {
      scenario: 'S7 inter-service call: contract client with its policy stack vs the same client without it',
      rounds: ROUNDS,
      secondsPerRound: SECONDS,
      concurrency: CONCURRENCY,
      pinned: pinned ? 'caller on core 0, downstream on core 1' : 'not pinned (no taskset)',
      sequentialLatency: {
        bareMedianUs: Math.round(median(latencies.map((l) => l.bare))),
        meshMedianUs: Math.round(median(latencies.map((l) => l.mesh))),
        addedRatio: spread(latencies.map((l) => l.mesh / l.bare - 1)),
      },
      stockTrpcClientPerRequest: {
        perSecond: Math.round(median(rounds.map((r) => r.stockPerRequest!.perSecond))),
        cpuMicrosPerCall: Math.round(median(rounds.map((r) => r.stockPerRequest!.cpuMicrosPerCall))),
      },
      pairs: Object.fromEntries(
        PAIRS.map(([label, bareName, meshName]) => [
          label,
          {
            barePerSecond: Math.round(median(rounds.map((r) => r[`${label}/${bareName}`]!.perSecond))),
            meshPerSecond: Math.round(median(rounds.map((r) => r[`${label}/${meshName}`]!.perSecond))),
            throughputRatio: spread(
              rounds.map((r) => r[`${label}/${meshName}`]!.perSecond / r[`${label}/${bareName}`]!.perSecond),
            ),
            bareCpuMicrosPerCall: Math.round(median(rounds.map((r) => r[`${label}/${bareName}`]!.cpuMicrosPerCall))),
            // Per round, the caller's CPU per call with the policies over without (robust to drift).
            cpuRatio: spread(
              rounds.map((r) => r[`${label}/${meshName}`]!.cpuMicrosPerCall / r[`${label}/${bareName}`]!.cpuMicrosPerCall),
            ),
            meshCpuMicrosPerCall: Math.round(median(rounds.map((r) => r[`${label}/${meshName}`]!.cpuMicrosPerCall))),
          },
        ]),
      ),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchInterService();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const pairs = result.pairs as Record<
    string,
    {
      throughputRatio: { median: number; min: number; max: number };
      cpuRatio: { median: number; min: number; max: number };
      bareCpuMicrosPerCall: number;
      meshCpuMicrosPerCall: number;
    }
  >;
  const lat = result.sequentialLatency as {
    bareMedianUs: number;
    meshMedianUs: number;
    addedRatio: { median: number; min: number; max: number };
  };
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  process.stdout.write(
    `one call at a time: without policies ${lat.bareMedianUs} us, with ${lat.meshMedianUs} us: +${pct(lat.addedRatio.median)} (min ${pct(lat.addedRatio.min)}, max ${pct(lat.addedRatio.max)})\n`,
  );
  for (const [label, p] of Object.entries(pairs)) {
    const [what, cpu] = label.startsWith('control')
      ? ['the second client', 'the first -> the second']
      : ['throughput with policies', 'without -> with'];
    process.stdout.write(
      `${label}, 16 concurrent: ${what} ${pct(p.throughputRatio.median)} of the other (min ${pct(p.throughputRatio.min)}, max ${pct(p.throughputRatio.max)}); caller CPU ${cpu} ${p.bareCpuMicrosPerCall} -> ${p.meshCpuMicrosPerCall} us/call, per round +${pct(p.cpuRatio.median - 1)} (${pct(p.cpuRatio.min - 1)}..${pct(p.cpuRatio.max - 1)})\n`,
    );
  }
  const stock = result.stockTrpcClientPerRequest as { perSecond: number; cpuMicrosPerCall: number };
  process.stdout.write(
    `reference, stock tRPC client per request: ${stock.perSecond} calls/s, caller CPU ${stock.cpuMicrosPerCall} us/call\n`,
  );
}
