import { MAX_TIMEOUT_MS } from '@switchyard/api-contracts';
import { BrokenCircuitError, EventEmitter, type CircuitBreakerPolicy } from 'cockatiel';
import { fullJitterDelay, type BackoffOptions } from '../policy-core/backoff.js';
import { CircuitState, breakerParts, type EitherBreaker } from './breaker.js';
import { AttemptTimers } from './attempt-timers.js';
import { Bulkhead } from './bulkhead.js';
import type { CallInfo, StartAttempt } from './call-attempt.js';
import {
  AttemptTimeoutError,
  CallRejectedError,
  mayRetry,
  reasonOf,
  type AttemptOutcome,
  type RejectReason,
} from './call-outcome.js';
import { now, remainingMs } from './deadline.js';
import { PolicyCall } from './policy-call.js';
import type { CallPolicyOptions, PolicyEvents } from './policy-options.js';
import { RetryBudget } from './retry-budget.js';

/**
 * The policies guarding calls to one target service, shared by every caller in the process:
 * deadline, retry (full jitter, Retry-After, budget), circuit breaker, bulkhead, per-try timeout.
 * Retry is ours, not cockatiel's: it needs the deadline, Retry-After and a retry budget.
 */
export class TargetPolicies {
  readonly events: PolicyEvents = {
    onRetry: new EventEmitter(),
    onRejected: new EventEmitter(),
    onBudgetExhausted: new EventEmitter(),
    onStateChange: new EventEmitter(),
  };
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly strategy: EitherBreaker | undefined;
  private readonly bulkhead: Bulkhead | undefined;
  private readonly budget: RetryBudget;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly halfOpenProbes: number;
  private readonly perTryTimeoutMs: number | undefined;
  private probing = 0;
  private readonly timers = new AttemptTimers();

  constructor(
    private readonly options: CallPolicyOptions,
    private readonly classify: (error: unknown) => AttemptOutcome,
  ) {
    for (const name of ['timeoutMs', 'perTryTimeoutMs'] as const) {
      const ms = options[name];
      if (ms !== undefined && !(ms > 0 && ms <= MAX_TIMEOUT_MS)) {
        throw new RangeError(`policies: ${name} must be more than 0 and at most ${MAX_TIMEOUT_MS} ms (Node's longest timer)`);
      }
    }
    this.maxAttempts = options.maxAttempts ?? 3;
    this.backoff = options.backoff ?? { baseMs: 25, capMs: 1_000 };
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.perTryTimeoutMs = options.perTryTimeoutMs;
    // On the deadlines' clock: a call is counted at the time its deadline was computed from.
    this.budget = new RetryBudget(options.budget, now);
    if (options.breaker !== false) {
      const { policy, strategy } = breakerParts(options.breaker ?? {}, (error) => this.countsAsFailure(error));
      this.breaker = policy;
      this.strategy = strategy;
      this.breaker.onStateChange((state) => this.events.onStateChange.emit(state));
    }
    if (options.bulkhead !== false) {
      const b = options.bulkhead ?? { maxConcurrent: 64, maxQueue: 256 };
      this.bulkhead = new Bulkhead(b.maxConcurrent, b.maxQueue);
    }
  }

  /** The breaker's state (`Closed` when there is none). */
  get state(): CircuitState {
    return this.breaker?.state ?? CircuitState.Closed;
  }

  /** The default timeout of a call, in ms. */
  get defaultTimeoutMs(): number {
    return this.options.timeoutMs ?? 5_000;
  }

  /**
   * Runs one call: `start` makes each attempt. Ends with the result, the server's error, or a
   * {@link CallRejectedError}.
   * @param deadlineAt the inbound request's deadline on the `now()` clock, if the call is made while serving one
   * @param at the `now()` clock's time, when the caller has just read it
   */
  execute<T>(info: CallInfo, start: StartAttempt, deadlineAt: number | undefined, at: number = now()): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (deadlineAt === undefined || deadlineAt > at + info.timeoutMs) deadlineAt = at + info.timeoutMs;
      if (deadlineAt - at < 1) {
        reject(this.reject(info, 'deadline', 'The deadline was spent before the call was made'));
        return;
      }
      this.budget.recordCall(at);
      this.attempt(new PolicyCall(this, info, start, deadlineAt, resolve as (value: unknown) => void, reject), at);
    });
  }

  /**
   * The call's next attempt. When a bulkhead slot is free and the circuit closed (the common
   * case) it starts here, its outcome coming back through the call itself (no promise, closure
   * or timer of its own: the policies must cost little next to the call);
   * otherwise it waits for a slot or goes through cockatiel's open or half-open circuit.
   */
  private attempt(call: PolicyCall, at: number = now()): void {
    const left = call.deadlineAt - at;
    if (left < 1) {
      call.fail(this.finalError(call.info, call.last));
      return;
    }
    const tryMs = this.perTryTimeoutMs === undefined || left < this.perTryTimeoutMs ? left : this.perTryTimeoutMs;
    // Whole ms, rounded down; `at + timeoutMs - at` may come out a hair under timeoutMs in
    // floating point, and a 5,000 ms budget should not read 4,999 (nor calls bound by one timeout
    // differ by a millisecond: a batch sends one budget they share once).
    const budgetMs = Math.max(1, Math.floor(tryMs + 1e-6));
    call.begin(tryMs, at);
    this.timers.add(call, tryMs, at);
    const { bulkhead, breaker } = this;
    const slot = !bulkhead || bulkhead.tryAcquire();
    if (slot && (!breaker || breaker.state === CircuitState.Closed)) {
      call.fast = true;
      try {
        call.start(call, call, budgetMs);
      } catch (error) {
        call.reject(error);
      }
      return;
    }
    call.fast = false;
    this.guardedAttempt(slot, call, budgetMs).then(
      (value) => call.resolve(value),
      (error: unknown) => call.reject(error),
    );
  }

  /** @internal An attempt of `call` succeeded (see {@link PolicyCall.resolve}). */
  succeeded(call: PolicyCall, value: unknown): void {
    this.timers.remove(call);
    if (call.fast) {
      this.bulkhead?.release();
      // cockatiel's closed state in place: a success is counted on the strategy, in the ratio's
      // bucket of the attempt's start or a later one (buckets are a second wide; no clock read).
      this.strategy?.closedSuccess(call.startedAt);
    }
    call.done(value);
  }

  /** @internal An attempt of `call` failed: a retry when the call may be retried and there is time and budget, else the final error. */
  failed(call: PolicyCall, error: unknown): void {
    this.timers.remove(call);
    const { breaker } = this;
    if (call.fast) {
      this.bulkhead?.release();
      // A failure goes to the policy, which counts it and opens the circuit when the strategy says so.
      if (breaker?.state === CircuitState.Closed) breaker.execute(() => Promise.reject(error)).catch(() => undefined);
    }
    const { info } = call;
    if (error instanceof BrokenCircuitError) error = new CallRejectedError('circuit_open', 'The circuit to this service is open');
    if (error instanceof CallRejectedError) {
      this.events.onRejected.emit({ procedure: info.procedure, reason: error.reason });
      call.fail(error);
      return;
    }
    const outcome = error instanceof AttemptTimeoutError ? ({ kind: 'other' } as const) : this.classify(error);
    if (!mayRetry(error, outcome, info) || call.attemptNo + 1 >= this.maxAttempts) {
      call.fail(this.finalError(info, error));
      return;
    }
    if (!this.budget.tryRetry()) {
      this.events.onBudgetExhausted.emit({ procedure: info.procedure });
      call.fail(this.finalError(info, error));
      return;
    }
    const retryAfter = outcome.kind === 'answered' ? (outcome.retryAfterMs ?? 0) : 0;
    const delayMs = Math.max(fullJitterDelay(call.attemptNo, this.backoff), retryAfter);
    if (delayMs >= remainingMs(call.deadlineAt)) {
      call.fail(this.finalError(info, error));
      return;
    }
    this.events.onRetry.emit({
      procedure: info.procedure,
      attempt: call.attemptNo + 1,
      delayMs,
      reason: reasonOf(error, outcome),
    });
    call.last = error;
    call.attemptNo++;
    setTimeout(() => this.attempt(call), delayMs);
  }

  /**
   * An attempt that waits for a bulkhead slot (unless `slot`, one is held) or goes through an
   * open or half-open circuit: cockatiel decides (backoff, the probe, state changes), except that
   * calls beyond the half-open probes fail fast instead of queueing behind them.
   */
  private async guardedAttempt(slot: boolean, call: PolicyCall, budgetMs: number): Promise<unknown> {
    if (!slot) {
      const queued = this.bulkhead!.wait(call);
      if (!queued) throw new CallRejectedError('bulkhead_full', 'Too many calls in flight to this service');
      await queued;
    }
    const run = () => new Promise<unknown>((resolve, reject) => call.start(call, { resolve, reject }, budgetMs));
    const breaker = this.breaker;
    try {
      if (!breaker) return await run();
      const probe = breaker.state !== CircuitState.Closed;
      if (probe && this.probing >= this.halfOpenProbes) throw new BrokenCircuitError();
      if (probe) this.probing++;
      try {
        return await breaker.execute(run);
      } finally {
        if (probe) this.probing--;
      }
    } finally {
      this.bulkhead?.release();
    }
  }

  private countsAsFailure(error: unknown): boolean {
    if (error instanceof AttemptTimeoutError) return true;
    const outcome = this.classify(error);
    if (outcome.kind === 'not-sent') return outcome.elsewhere !== true;
    return outcome.kind === 'maybe-sent' || (outcome.kind === 'answered' && outcome.status >= 500);
  }

  /** The error a call ends with once no retry is left: the server's own, or ours. */
  private finalError(call: CallInfo, error: unknown): unknown {
    if (error === undefined) return this.reject(call, 'deadline', 'The deadline passed before the call could be made');
    const outcome = error instanceof AttemptTimeoutError ? undefined : this.classify(error);
    if (error instanceof AttemptTimeoutError || outcome?.kind === 'maybe-sent') {
      if (!call.idempotent) {
        return this.reject(
          call,
          'outcome_unknown',
          'The call may or may not have run: the connection failed after it was sent',
          error,
        );
      }
      if (error instanceof AttemptTimeoutError)
        return this.reject(call, 'deadline', 'The call did not finish within its deadline', error);
      return this.reject(call, 'unreachable', 'The service could not be reached', error);
    }
    if (outcome?.kind === 'not-sent') return this.reject(call, 'unreachable', 'The service could not be reached', error);
    return error;
  }

  private reject(call: CallInfo, reason: RejectReason, message: string, cause?: unknown): CallRejectedError {
    this.events.onRejected.emit({ procedure: call.procedure, reason });
    return new CallRejectedError(reason, message, { cause });
  }
}
