import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '@switchyard/infra/testing';
import { signUp, startStack, type Instance, type Stack } from './stack.js';
import { startFreezeLoad, type FreezeCall } from './freeze-load.js';

// One notes instance of three is stopped (SIGSTOP) for FREEZE_MS under load through the gateway,
// then continued. Calls already sent to it must be answered within a bound tied to their
// deadline, not to the freeze: queries retried elsewhere, mutations ending as what is known.
const FREEZE_MS = 10_000;
/** A mutation's deadline: the clients' overall timeout. */
const DEADLINE_MS = 3_000;
const PER_TRY_TIMEOUT_MS = 400;
const MAX_ATTEMPTS = 4;
/** No query through a typed client may take longer. */
const QUERY_BOUND_MS = 2_000;
/** A client's timer fires at the deadline; a loaded 2-core machine runs it this much late at most. */
const TIMER_SLACK_MS = 250;
/**
 * Calls through fetch alone have no deadline of their own: the gateway's response-header timeout
 * (6 s, above the 5 s deadline it gives every call) bounds them, plus one retry of a GET.
 */
const GATEWAY_BOUND_MS = 7_500;
const WARM_CALLS = 100;

let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_POINTS: '1000000' } });
  token = await signUp(stack.gateway.url, 'freeze@example.com', 'a frozen instance costs little');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

/** The instance's `switchyard_rpc_requests_total`, all series summed. */
async function requestsServed(instance: Instance): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.metricsPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('switchyard_rpc_requests_total{')) total += Number(line.split(' ').pop());
  return total;
}

const longest = (calls: FreezeCall[]) => Math.round(Math.max(0, ...calls.map((c) => c.end - c.start)));
const count = (calls: FreezeCall[], test: (c: FreezeCall) => boolean) => calls.filter(test).length;

describe('a frozen notes instance under load through the gateway', () => {
  it('SIGSTOP for 10 s: queries <= 2 s, mutations within their deadline, no failure whose effect happened; after SIGCONT it takes its share', async () => {
    const load = startFreezeLoad({
      gatewayUrl: stack.gateway.url,
      token,
      workers: { client: 4, mesh: 2, raw: 2 },
      deadlineMs: DEADLINE_MS,
      perTryTimeoutMs: PER_TRY_TIMEOUT_MS,
      maxAttempts: MAX_ATTEMPTS,
    });
    await pollUntil('the load under way', () => load.calls.length >= WARM_CALLS, { timeoutMs: 30_000 });
    const frozen = stack.notes[1]!;
    const frozenAt = performance.now();
    frozen.current.signal('SIGSTOP');
    // Deliberate: the scenario is a freeze of this length under load.
    await sleep(FREEZE_MS);
    frozen.current.signal('SIGCONT');
    const resumedAt = performance.now();
    // Back in rotation once an active check passes: then it must take its share.
    const atResume = await requestsServed(frozen);
    await pollUntil('the resumed instance serving again', async () => (await requestsServed(frozen)) > atResume + 20, {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    const before = await Promise.all(stack.notes.map(requestsServed));
    const since = performance.now();
    await pollUntil('600 calls after it rejoined', () => count(load.calls, (c) => c.start > since) >= 600, { timeoutMs: 60_000 });
    const after = await Promise.all(stack.notes.map(requestsServed));
    const calls = await load.stop();
    const titles = await load.titles();

    const deltas = after.map((n, i) => n - before[i]!);
    const share = deltas[1]! / deltas.reduce((sum, n) => sum + n, 0);
    const during = calls.filter((c) => c.start < resumedAt && c.end > frozenAt);
    const typed = calls.filter((c) => c.caller !== 'raw');
    const queries = typed.filter((c) => c.kind === 'query');
    const mutations = typed.filter((c) => c.kind === 'mutation');
    const raw = calls.filter((c) => c.caller === 'raw');
    const creates = calls.filter((c) => c.kind === 'mutation');
    // A failure is the truth only if its note does not exist, or it says the outcome is unknown.
    const untrue = creates.filter((c) => c.appCode && c.appCode !== 'OUTCOME_UNKNOWN' && titles.has(c.title!));
    const unknown = creates.filter((c) => c.appCode === 'OUTCOME_UNKNOWN');
    const lost = creates.filter((c) => !c.appCode && !titles.has(c.title!));
    const byCode = (list: FreezeCall[]) =>
      JSON.stringify(
        list
          .filter((c) => c.appCode)
          .reduce<Record<string, number>>((m, c) => ((m[c.appCode!] = (m[c.appCode!] ?? 0) + 1), m), {}),
      );

    console.log(
      [
        `freeze ${FREEZE_MS} ms: ${calls.length} calls (${during.length} while frozen)`,
        `typed clients: ${queries.length} queries, longest ${longest(queries)} ms, failed ${byCode(queries)}; ` +
          `${mutations.length} creates, longest ${longest(mutations)} ms (deadline ${DEADLINE_MS}), failed ${byCode(mutations)}`,
        `fetch alone: ${raw.length} calls, longest query ${longest(raw.filter((c) => c.kind === 'query'))} ms, ` +
          `longest create ${longest(raw.filter((c) => c.kind === 'mutation'))} ms, failed ${byCode(raw)}`,
        `read back: ${creates.length} creates, ${unknown.length} OUTCOME_UNKNOWN (${count(unknown, (c) => titles.has(c.title!))} of them exist), ` +
          `${untrue.length} reported failed but exist, ${lost.length} reported done but missing`,
        `after SIGCONT: requests per instance ${JSON.stringify(deltas)}, the resumed one's share ${share.toFixed(3)}`,
      ].join('\n'),
    );

    expect(longest(queries)).toBeLessThanOrEqual(QUERY_BOUND_MS);
    expect(count(queries, (c) => c.appCode !== undefined)).toBe(0);
    expect(longest(mutations)).toBeLessThanOrEqual(DEADLINE_MS + TIMER_SLACK_MS);
    expect(longest(raw)).toBeLessThanOrEqual(GATEWAY_BOUND_MS);
    expect(untrue.map((c) => `${c.caller} ${c.appCode}: ${c.message}`)).toEqual([]);
    expect(lost).toEqual([]);
    expect(count(creates, (c) => c.retryable === true && titles.has(c.title!))).toBe(0);
    // Calls were sent to it while frozen and came back within their bounds.
    expect(during.length).toBeGreaterThan(0);
    expect(share).toBeGreaterThan(1 / 6);
  }, 180_000);
});
