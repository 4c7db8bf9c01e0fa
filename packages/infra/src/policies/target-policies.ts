import {
  BrokenCircuitError,
  BulkheadRejectedError,
  EventEmitter,
  bulkhead,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { fullJitterDelay, type BackoffOptions } from './backoff.js';
import { CircuitState, createBreaker, type BreakerOptions } from './breaker.js';
import { now, remainingMs } from './deadline.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';

/** What an attempt's failure says about the request, as the caller can tell. */
export type AttemptOutcome =
  | { kind: 'answered'; status: number; retryAfterMs?: number | undefined }
  /** Refused before anything was sent (e.g. ECONNREFUSED): safe to repeat. */
  | { kind: 'not-sent' }
  /** The connection failed after the request may have reached the server. */
  | { kind: 'maybe-sent' }
  | { kind: 'other' };

/** Why the policies, not the server, ended a call. */
export type RejectReason = 'circuit_open' | 'bulkhead_full' | 'deadline' | 'outcome_unknown' | 'unreachable';

/** A call ended by the policies. `cause` is the last attempt's error, if any. */
export class CallRejectedError extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CallRejectedError';
  }
}

/**
 * How an attempt learns it must stop: a lighter stand-in for an AbortSignal (creating an
 * AbortController costs ~3 us on Node 20, per attempt).
 */
export class AttemptCancellation {
  private listener: ((reason: Error) => void) | undefined;
  private cancelledWith: Error | undefined;

  /** Calls `listener` when the attempt is cancelled (at once if it already was). */
  onCancel(listener: (reason: Error) => void): void {
    if (this.cancelledWith) listener(this.cancelledWith);
    else this.listener = listener;
  }

  /** Stops listening (the attempt settled). */
  dispose(): void {
    this.listener = undefined;
  }

  cancel(reason: Error): void {
    this.cancelledWith = reason;
    this.listener?.(reason);
  }
}

class AttemptTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`attempt timed out after ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

/** One call as the policies see it. */
export interface CallInfo {
  readonly procedure: string;
  /** Queries, and mutations the contract marks idempotent. */
  readonly idempotent: boolean;
  /** This call's own timeout, in ms (from the contract or the client's default). */
  readonly timeoutMs: number;
  /** The inbound request's deadline on the `now()` clock, if the call is made while serving one. */
  readonly deadlineAt?: number | undefined;
}

/** Options of {@link TargetPolicies}. Durations in ms. */
export interface CallPolicyOptions {
  /** A call's default overall timeout. @default 5000 */
  timeoutMs?: number;
  /** The timeout of one attempt. @default the overall budget */
  perTryTimeoutMs?: number;
  /** Attempts per call, the first included. @default 3 */
  maxAttempts?: number;
  /** @default { baseMs: 25, capMs: 1000 } */
  backoff?: BackoffOptions;
  budget?: RetryBudgetOptions;
  /** `false` turns the breaker off. */
  breaker?: BreakerOptions | false;
  /** Concurrent attempts and queued ones; `false` turns the bulkhead off. @default { maxConcurrent: 64, maxQueue: 256 } */
  bulkhead?: { maxConcurrent: number; maxQueue: number } | false;
  /** Concurrent probes while half-open; others fail fast. @default 1 */
  halfOpenProbes?: number;
}

/** Typed events for metrics and logs. */
export interface PolicyEvents {
  readonly onRetry: EventEmitter<{ procedure: string; attempt: number; delayMs: number; reason: string }>;
  readonly onRejected: EventEmitter<{ procedure: string; reason: RejectReason }>;
  readonly onBudgetExhausted: EventEmitter<{ procedure: string }>;
  readonly onStateChange: EventEmitter<CircuitState>;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
  private readonly bulkhead: BulkheadPolicy | undefined;
  private readonly budget: RetryBudget;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly halfOpenProbes: number;
  private probing = 0;

  constructor(
    private readonly options: CallPolicyOptions,
    private readonly classify: (error: unknown) => AttemptOutcome,
  ) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.backoff = options.backoff ?? { baseMs: 25, capMs: 1_000 };
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.budget = new RetryBudget(options.budget);
    if (options.breaker !== false) {
      this.breaker = createBreaker(options.breaker ?? {}, (error) => this.countsAsFailure(error));
      this.breaker.onStateChange((state) => this.events.onStateChange.emit(state));
    }
    if (options.bulkhead !== false) {
      const b = options.bulkhead ?? { maxConcurrent: 64, maxQueue: 256 };
      this.bulkhead = bulkhead(b.maxConcurrent, b.maxQueue);
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
   * Runs one call: `attempt` makes one try and must reject with the reason it is given when it is
   * cancelled. Ends with the result, the server's error, or a {@link CallRejectedError}.
   */
  async execute<T>(call: CallInfo, attempt: (cancellation: AttemptCancellation, budgetMs: number) => Promise<T>): Promise<T> {
    const deadlineAt = Math.min(call.deadlineAt ?? Infinity, now() + call.timeoutMs);
    if (remainingMs(deadlineAt) < 1) throw this.reject(call, 'deadline', 'The deadline was spent before the call was made');
    this.budget.recordCall();
    let last: unknown;
    for (let attemptNo = 0; ; attemptNo++) {
      const left = remainingMs(deadlineAt);
      if (left < 1) throw this.finalError(call, last);
      const tryMs = Math.min(left, this.options.perTryTimeoutMs ?? left);
      try {
        return await this.once(tryMs, (cancellation) => attempt(cancellation, Math.max(1, Math.floor(tryMs))));
      } catch (error) {
        if (error instanceof CallRejectedError) {
          this.events.onRejected.emit({ procedure: call.procedure, reason: error.reason });
          throw error;
        }
        last = error;
        const outcome = error instanceof AttemptTimeoutError ? ({ kind: 'other' } as const) : this.classify(error);
        if (!this.mayRetry(error, outcome, call)) throw this.finalError(call, error);
        if (attemptNo + 1 >= this.maxAttempts) throw this.finalError(call, error);
        if (!this.budget.tryRetry()) {
          this.events.onBudgetExhausted.emit({ procedure: call.procedure });
          throw this.finalError(call, error);
        }
        const retryAfter = outcome.kind === 'answered' ? (outcome.retryAfterMs ?? 0) : 0;
        const delayMs = Math.max(fullJitterDelay(attemptNo, this.backoff), retryAfter);
        if (delayMs >= remainingMs(deadlineAt)) throw this.finalError(call, error);
        this.events.onRetry.emit({
          procedure: call.procedure,
          attempt: attemptNo + 1,
          delayMs,
          reason: reasonOf(error, outcome),
        });
        await sleep(delayMs);
      }
    }
  }

  /** One attempt through timeout, bulkhead and breaker. */
  private async once<T>(tryMs: number, attempt: (cancellation: AttemptCancellation) => Promise<T>): Promise<T> {
    const cancellation = new AttemptCancellation();
    let rejectTimedOut: (error: Error) => void = () => undefined;
    const timer = setTimeout(() => {
      // The attempt rejects with this reason, so the breaker counts it as a timeout.
      const error = new AttemptTimeoutError(tryMs);
      cancellation.cancel(error);
      rejectTimedOut(error);
    }, tryMs);
    try {
      const guarded = () => this.throughBreaker(() => attempt(cancellation));
      if (!this.bulkhead) return await guarded();
      // With a free slot the attempt starts now and rejects itself when cancelled; only a queued one
      // must be raced against the timer.
      if (this.bulkhead.executionSlots > 0) return await this.bulkhead.execute(guarded);
      const timedOut = new Promise<never>((_, reject) => (rejectTimedOut = reject));
      return await Promise.race([this.bulkhead.execute(guarded), timedOut]);
    } catch (error) {
      if (error instanceof BulkheadRejectedError)
        throw new CallRejectedError('bulkhead_full', 'Too many calls in flight to this service');
      if (error instanceof BrokenCircuitError) throw new CallRejectedError('circuit_open', 'The circuit to this service is open');
      throw error;
    } finally {
      clearTimeout(timer);
      cancellation.dispose();
    }
  }

  private async throughBreaker<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.breaker) return fn();
    const state = this.breaker.state;
    const probe = state !== CircuitState.Closed;
    // cockatiel queues calls beyond its half-open sample; we fail them fast instead.
    if (probe && this.probing >= this.halfOpenProbes) throw new BrokenCircuitError();
    if (probe) this.probing++;
    try {
      return await this.breaker.execute(fn);
    } finally {
      if (probe) this.probing--;
    }
  }

  private countsAsFailure(error: unknown): boolean {
    if (error instanceof AttemptTimeoutError) return true;
    const outcome = this.classify(error);
    return outcome.kind === 'not-sent' || outcome.kind === 'maybe-sent' || (outcome.kind === 'answered' && outcome.status >= 500);
  }

  private mayRetry(error: unknown, outcome: AttemptOutcome, call: CallInfo): boolean {
    if (error instanceof AttemptTimeoutError) return call.idempotent;
    switch (outcome.kind) {
      case 'not-sent':
        return true;
      case 'maybe-sent':
        return call.idempotent;
      case 'answered':
        // 429 is refused before any handler runs; 502/503/504 may have run one.
        return outcome.status === 429 || (call.idempotent && RETRYABLE_STATUS.has(outcome.status));
      default:
        return false;
    }
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

function reasonOf(error: unknown, outcome: AttemptOutcome): string {
  if (error instanceof AttemptTimeoutError) return 'timeout';
  return outcome.kind === 'answered' ? String(outcome.status) : outcome.kind;
}
