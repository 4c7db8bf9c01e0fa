import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProcedureDef } from '@switchyard/api-contracts';
import type { SwitchyardError } from '../../errors/switchyard-error.js';
import type { RequestContext } from '../../trpc/context.js';
import type { PipelineCall } from '../call.js';
import { MUTATION_SETTLE_MS, deadline } from './deadline.js';

// The deadline step on its own: a context whose signal the test fires as the deadline
// (a TimeoutError, as the call's scope fires it) or as the caller going away.

const timeout = () => new DOMException('The call did not finish within its deadline', 'TimeoutError');

function callOf(def: Partial<ProcedureDef>) {
  const controller = new AbortController();
  const call = {
    procedure: { name: 'p', def: { type: 'mutation', ...def }, meta: {} },
    ctx: { signal: controller.signal } as unknown as RequestContext,
    rawInput: () => undefined,
    input: undefined,
  } as unknown as PipelineCall;
  return { call, controller };
}

/** A handler's work that the test settles by hand. */
function work() {
  let resolve!: (value: unknown) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<unknown>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const appCodeOf = (outcome: Promise<unknown>) =>
  outcome.then(
    () => 'OK',
    (error: unknown) => (error as SwitchyardError).appCode,
  );

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('deadline step', () => {
  it('a mutation that commits just after its deadline returns its result', async () => {
    const { call, controller } = callOf({});
    const handler = work();
    const outcome = deadline()(call, () => handler.promise) as Promise<unknown>;
    controller.abort(timeout());
    await vi.advanceTimersByTimeAsync(MUTATION_SETTLE_MS / 2);
    handler.resolve({ id: 'n1' });
    await expect(outcome).resolves.toEqual({ id: 'n1' });
  });

  it('a mutation still running when its time to settle is over: OUTCOME_UNKNOWN, not retryable', async () => {
    const { call, controller } = callOf({});
    const outcome = deadline()(call, () => work().promise) as Promise<unknown>;
    const caught = outcome.catch((error: unknown) => error);
    controller.abort(timeout());
    await vi.advanceTimersByTimeAsync(MUTATION_SETTLE_MS - 1);
    let settled = false;
    void outcome.catch(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = (await caught) as SwitchyardError;
    expect(error.appCode).toBe('OUTCOME_UNKNOWN');
    expect(error.retryable).toBe(false);
  });

  it('a mutation that stops through its signal: DEADLINE_EXCEEDED (it stopped before its effect)', async () => {
    const { call, controller } = callOf({});
    const handler = work();
    const outcome = appCodeOf(deadline()(call, () => handler.promise) as Promise<unknown>);
    controller.abort(timeout());
    handler.reject(controller.signal.reason);
    expect(await outcome).toBe('DEADLINE_EXCEEDED');
  });

  it.each([
    ['a query', { type: 'query' as const }, 'DEADLINE_EXCEEDED'],
    ['an idempotent mutation', { idempotent: true }, 'DEADLINE_EXCEEDED'],
  ])('%s fails at its deadline at once', async (_name, def, code) => {
    const { call, controller } = callOf(def);
    const outcome = appCodeOf(deadline()(call, () => work().promise) as Promise<unknown>);
    controller.abort(timeout());
    expect(await outcome).toBe(code);
  });

  it('a mutation whose caller went away fails at once: CLIENT_CLOSED_REQUEST', async () => {
    const { call, controller } = callOf({});
    const outcome = appCodeOf(deadline()(call, () => work().promise) as Promise<unknown>);
    controller.abort();
    expect(await outcome).toBe('CLIENT_CLOSED_REQUEST');
  });
});
