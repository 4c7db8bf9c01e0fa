import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '@switchyard/infra/testing';
import { signUp } from './accounts.js';
import { startGateway } from './gateway.js';
import type { Instance } from './services.js';
import { startStack, type Stack } from './stack.js';
import { freezeFigures } from './freeze-figures.js';
import { startFreezeLoad, type FreezeCall, type FreezeLoadOptions } from './freeze-load.js';

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
 * (6 s, above the 5 s deadline it gives every call) bounds them, and a GET's retries within its
 * 7 s try duration; the rest is room for a loaded machine, still short of the freeze.
 */
const GATEWAY_BOUND_MS = 8_000;
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

const count = (calls: FreezeCall[], test: (c: FreezeCall) => boolean) => calls.filter(test).length;

/**
 * One freeze under load: SIGSTOP to notes-2 for FREEZE_MS, SIGCONT, then calls until the resumed
 * instance serves again and 600 more. Returns the figures and the resumed instance's share of the
 * requests after it rejoined (from the instances' request metrics).
 */
async function freezeRound(load: FreezeLoadOptions['workers'], perTryTimeoutMs: number, mutationShare = 0.5) {
  const calls = startFreezeLoad({
    gatewayUrl: stack.gateway.url,
    token,
    workers: load,
    deadlineMs: DEADLINE_MS,
    perTryTimeoutMs,
    maxAttempts: MAX_ATTEMPTS,
    mutationShare,
  });
  await pollUntil('the load under way', () => calls.calls.length >= WARM_CALLS, { timeoutMs: 30_000 });
  const frozen = stack.notes[1]!;
  const frozenAt = performance.now();
  frozen.current.signal('SIGSTOP');
  try {
    // Deliberate: the scenario is a freeze of this length under load.
    await sleep(FREEZE_MS);
  } finally {
    frozen.current.signal('SIGCONT');
  }
  const resumedAt = performance.now();
  // Back in rotation once an active check passes: then it must take its share.
  const atResume = await requestsServed(frozen);
  await pollUntil('the resumed instance serving again', async () => (await requestsServed(frozen)) > atResume + 20, {
    timeoutMs: 15_000,
    intervalMs: 100,
  });
  const before = await Promise.all(stack.notes.map(requestsServed));
  const since = performance.now();
  await pollUntil('600 calls after it rejoined', () => count(calls.calls, (c) => c.start > since) >= 600, { timeoutMs: 60_000 });
  const after = await Promise.all(stack.notes.map(requestsServed));
  const done = await calls.stop();
  const figures = freezeFigures(done, await calls.titles());
  const deltas = after.map((n, i) => n - before[i]!);
  const share = deltas[1]! / deltas.reduce((sum, n) => sum + n, 0);
  const during = count(done, (c) => c.start < resumedAt && c.end > frozenAt);
  const report = [
    `freeze ${FREEZE_MS} ms, per-try timeout ${perTryTimeoutMs} ms, deadline ${DEADLINE_MS} ms: ${done.length} calls (${during} while frozen)`,
    figures.report,
    `after SIGCONT: requests per instance ${JSON.stringify(deltas)}, the resumed one's share ${share.toFixed(3)}`,
  ].join('\n');
  return { ...figures, during, share, report };
}

describe('a frozen notes instance under load through the gateway', () => {
  it('SIGSTOP for 10 s: queries <= 2 s, mutations within their deadline, no failure whose effect happened; after SIGCONT it takes its share', async () => {
    const r = await freezeRound({ client: 4, mesh: 2, raw: 2 }, PER_TRY_TIMEOUT_MS);
    console.log(r.report);
    expect(r.longestQueryMs).toBeLessThanOrEqual(QUERY_BOUND_MS);
    expect(r.failedQueries).toBe(0);
    expect(r.longestMutationMs).toBeLessThanOrEqual(DEADLINE_MS + TIMER_SLACK_MS);
    expect(r.longestRawMs).toBeLessThanOrEqual(GATEWAY_BOUND_MS);
    expect(r.untrue).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.retryableButDone).toBe(0);
    // Calls were sent to it while frozen and came back within their bounds.
    expect(r.during).toBeGreaterThan(0);
    expect(r.share).toBeGreaterThan(1 / 6);
  }, 180_000);

  it('negative control: without per-try timeouts the same freeze holds queries past 2 s', async () => {
    // Queries only, so the calls caught on the frozen instance are queries.
    const r = await freezeRound({ client: 4, mesh: 2, raw: 0 }, DEADLINE_MS, 0);
    console.log(`negative control: ${r.report}`);
    expect(r.longestQueryMs > QUERY_BOUND_MS || r.failedQueries > 0).toBe(true);
  }, 180_000);

  it('the gateway alone: a call to a frozen instance is answered before the freeze ends, a POST as OUTCOME_UNKNOWN', async () => {
    const frozen = stack.notes[2]!;
    const only = (instance: Instance) => [`127.0.0.1:${instance.port}`];
    const gateway = await startGateway({
      upstreams: { auth: only(stack.auth), notes: only(frozen), activity: only(stack.activity) },
      corsOrigins: [],
      webRoot: stack.webRoot,
    });
    const base = `${gateway.url}/api/notes/trpc`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const timed = async (send: () => Promise<Response>) => {
      const started = performance.now();
      const res = await send();
      const body = (await res.json()) as { error?: { appCode?: string; retryable?: boolean } };
      return { status: res.status, ...body.error, ms: Math.round(performance.now() - started) };
    };
    frozen.current.signal('SIGSTOP');
    const frozenAt = performance.now();
    try {
      const [create, list] = await Promise.all([
        timed(() => fetch(`${base}/create`, { method: 'POST', headers, body: JSON.stringify({ json: { title: 'frozen' } }) })),
        timed(() => fetch(`${base}/list?input=${encodeURIComponent('{"json":{}}')}`, { headers })),
      ]);
      const answeredAfterMs = Math.round(performance.now() - frozenAt);
      console.log(`gateway alone, its one notes instance frozen: create ${JSON.stringify(create)}; list ${JSON.stringify(list)}`);
      expect(create).toMatchObject({ status: 502, appCode: 'OUTCOME_UNKNOWN', retryable: false });
      expect([502, 503, 504]).toContain(list.status);
      expect(answeredAfterMs).toBeLessThanOrEqual(GATEWAY_BOUND_MS);
    } finally {
      frozen.current.signal('SIGCONT');
      await gateway.stop();
    }
  }, 60_000);
});
