// S7: an inter-service call through the contract client with its policy stack (deadline, retry,
// breaker, bulkhead, identity, trace and request-id headers, metrics) against the same call through
// a stock tRPC client with the same link (httpBatchLink + superjson). Both call the same downstream
// process; variants are interleaved over rounds; the ratio is reported as median (min-max).
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { RouterOf } from '../packages/api-contracts/src/index.js';
import { createServiceClient } from '../packages/infra/src/client/service-client.js';
import { downstreamContract } from '../packages/infra/src/client/fixtures/downstream.js';
import { now } from '../packages/infra/src/policies/deadline.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 7;
const SECONDS = quick ? 0.5 : 3;
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

/** Pins the caller (this process) to core 0 and the downstream to core 1 when taskset exists (BENCHMARKS.md rule 2). */
const pinned = spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

export async function benchInterService(): Promise<Record<string, unknown>> {
  const server = [
    process.execPath,
    '--conditions=@switchyard/source',
    '--import',
    'tsx',
    fileURLToPath(new URL('./downstream-server.ts', import.meta.url)),
  ];
  const [command, ...args] = pinned ? ['taskset', '-c', '1', ...server] : server;
  const child = spawn(command!, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' },
  });
  const url = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)),
  );
  try {
    const stock = createTRPCClient<RouterOf<typeof downstreamContract>>({
      links: [httpBatchLink({ url: `${url}/trpc`, transformer: superjson, maxItems: 64 })],
    });
    const mesh = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url,
      caller: { service: 'bench', key: 'bench-key-0123456789abcdef' },
    });
    const stockClient = () =>
      createTRPCClient<RouterOf<typeof downstreamContract>>({
        links: [httpBatchLink({ url: `${url}/trpc`, transformer: superjson, maxItems: 64 })],
      });
    const shared = { requestId: 'bench-request-000001', deadlineAt: now() + 3_600_000, otel: ROOT_CONTEXT };
    const PAIRS = [
      // Calls made while serving one request share its context, so concurrent ones share a batch.
      ['batched', 'stockBatched', 'meshBatched'],
      // Calls made while serving different requests: each its own context, deadline, trace, batch.
      ['per-request', 'stockPerRequest', 'meshPerRequest'],
    ] as const;
    const variants: Record<string, Caller> = {
      stockBatched: () => stock.work.query({}),
      meshBatched: () => mesh.with(shared).work.query({}),
      stockPerRequest: () => stockClient().work.query({}),
      meshPerRequest: () =>
        mesh.with({ requestId: 'bench-request-000001', deadlineAt: now() + 5_000, otel: ROOT_CONTEXT }).work.query({}),
    };
    for (const call of Object.values(variants)) await measure(call, quick ? 0.2 : 1); // warm-up
    const rounds: Array<Record<string, { perSecond: number; cpuMicrosPerCall: number }>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const result: Record<string, { perSecond: number; cpuMicrosPerCall: number }> = {};
      for (const [, stockName, meshName] of PAIRS) {
        const order = round % 2 === 0 ? [stockName, meshName] : [meshName, stockName];
        for (const name of order) result[name] = await measure(variants[name]!, SECONDS);
      }
      rounds.push(result);
    }
    const spread = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
    const latencies: Array<{ stock: number; mesh: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const calls = quick ? 50 : 400;
      const stockUs = await latency(variants.stockPerRequest!, calls);
      const meshUs = await latency(variants.meshPerRequest!, calls);
      latencies.push({ stock: stockUs, mesh: meshUs });
    }
    return {
      scenario: 'S7 inter-service call: contract client with its policy stack vs a stock tRPC client with the same link',
      rounds: ROUNDS,
      secondsPerRound: SECONDS,
      concurrency: CONCURRENCY,
      pinned: pinned ? 'caller on core 0, downstream on core 1' : 'not pinned (no taskset)',
      sequentialLatency: {
        stockMedianUs: Math.round(median(latencies.map((l) => l.stock))),
        meshMedianUs: Math.round(median(latencies.map((l) => l.mesh))),
        addedRatio: spread(latencies.map((l) => l.mesh / l.stock - 1)),
      },
      pairs: Object.fromEntries(
        PAIRS.map(([label, stockName, meshName]) => [
          label,
          {
            stockPerSecond: Math.round(median(rounds.map((r) => r[stockName]!.perSecond))),
            meshPerSecond: Math.round(median(rounds.map((r) => r[meshName]!.perSecond))),
            throughputRatio: spread(rounds.map((r) => r[meshName]!.perSecond / r[stockName]!.perSecond)),
            stockCpuMicrosPerCall: Math.round(median(rounds.map((r) => r[stockName]!.cpuMicrosPerCall))),
            meshCpuMicrosPerCall: Math.round(median(rounds.map((r) => r[meshName]!.cpuMicrosPerCall))),
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
    { throughputRatio: { median: number; min: number; max: number }; stockCpuMicrosPerCall: number; meshCpuMicrosPerCall: number }
  >;
  const lat = result.sequentialLatency as {
    stockMedianUs: number;
    meshMedianUs: number;
    addedRatio: { median: number; min: number; max: number };
  };
  process.stdout.write(
    `one call at a time: stock ${lat.stockMedianUs} us, with policies ${lat.meshMedianUs} us: +${(lat.addedRatio.median * 100).toFixed(1)}% (min ${(lat.addedRatio.min * 100).toFixed(1)}%, max ${(lat.addedRatio.max * 100).toFixed(1)}%)\n`,
  );
  for (const [label, p] of Object.entries(pairs)) {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    process.stdout.write(
      `${label}: policy stack throughput ${pct(p.throughputRatio.median)} of stock (min ${pct(p.throughputRatio.min)}, max ${pct(p.throughputRatio.max)}); client CPU ${p.stockCpuMicrosPerCall} -> ${p.meshCpuMicrosPerCall} us/call\n`,
    );
  }
}
