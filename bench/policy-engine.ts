// The policy stack's own cost per call, below the noise of an end-to-end run: the same call
// shape (50 in flight, answers delivered in batches on the next event-loop turn, as the mesh
// transport delivers them) with and without TargetPolicies.execute (deadline, per-try timer,
// retry budget, breaker, bulkhead). Interleaved rounds (ABBA); prints the added CPU microseconds
// per call, median (min-max). hops.ts divides it by the CPU an inter-service hop costs.
import { classifyAttemptError } from '@switchyard/infra/client';
import { TargetPolicies, type CallSink } from '@switchyard/infra/policies';
import { spread } from './measure.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 12;
const CALLS = quick ? 20_000 : 200_000;
const IN_FLIGHT = 50;

/** Delivers answers in batches on the next turn, as the transport does. */
let waiting: CallSink[] = [];
let scheduled = false;
const deliver = (sink: CallSink) => {
  waiting.push(sink);
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const batch = waiting;
    waiting = [];
    for (const s of batch) s.resolve(1);
  });
};
const listener = { cancelled: () => undefined };

type Call = () => Promise<unknown>;
const policies = new TargetPolicies({}, classifyAttemptError);
const HELLO = { procedure: 'hello', idempotent: true, timeoutMs: 5_000 };
const variants: Record<'bare' | 'policies', Call> = {
  bare: () => new Promise((resolve, reject) => deliver({ resolve, reject })),
  policies: () =>
    policies.execute(
      HELLO,
      (cancellation, sink) => {
        cancellation.onCancel(listener);
        deliver(sink);
      },
      performance.now() + 10_000,
    ),
};

/** CPU microseconds per call for `CALLS` calls, `IN_FLIGHT` at a time. */
async function cpuPerCall(call: Call): Promise<number> {
  let started = 0;
  const cpu0 = process.cpuUsage();
  const worker = async () => {
    while (started++ < CALLS) await call();
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / CALLS;
}

export async function benchPolicyEngine(): Promise<{ addedMicrosPerCall: { median: number; min: number; max: number } }> {
  for (const call of Object.values(variants)) await cpuPerCall(call); // warm-up
  const added: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['bare', 'policies'] as const) : (['policies', 'bare'] as const);
    const cpu = { bare: 0, policies: 0 };
    for (const name of order) cpu[name] = await cpuPerCall(variants[name]);
    added.push(cpu.policies - cpu.bare);
  }
  return { addedMicrosPerCall: spread(added) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { addedMicrosPerCall: a } = await benchPolicyEngine();
  console.log(
    `policy engine: +${a.median.toFixed(2)} us CPU per call (${a.min.toFixed(2)}..${a.max.toFixed(2)}), ${ROUNDS} rounds of ${CALLS} calls`,
  );
}
