import type { TimedNode } from './attempt-timers.js';
import { tell, type CallInfo, type CallSink, type Cancellable, type CancelListener, type StartAttempt } from './call-attempt.js';
import { AttemptTimeoutError } from './call-outcome.js';
import type { TargetPolicies } from './target-policies.js';

/**
 * One call through the policies, and each of its attempts in turn (they never overlap): its
 * cancellation, its per-try timer entry and, in the common case, the sink its attempt settles.
 * Made for every call: its fields are declared and set in the constructor, with no base class and
 * no class-field initializers, so constructing one stays on V8's fast path.
 */
export class PolicyCall implements TimedNode, Cancellable, CallSink {
  declare attemptNo: number;
  declare last: unknown;
  /** Whether the current attempt took the fast path (holds a slot, counted on the strategy). */
  declare fast: boolean;
  declare timedPrev: TimedNode | undefined;
  declare timedNext: TimedNode | undefined;
  declare timedList: TimedNode['timedList'];
  declare expiresAt: number;
  declare private open: boolean;
  declare private timeoutMs: number;
  /** When the current attempt started, on the `now()` clock. */
  declare startedAt: number;
  declare private listener: CancelListener | undefined;
  declare private cancelledWith: Error | undefined;
  declare private readonly policies: TargetPolicies;
  declare readonly info: CallInfo;
  declare readonly start: StartAttempt;
  declare readonly deadlineAt: number;
  /** The call's outcome: its result... */
  declare readonly done: (value: unknown) => void;
  /** ...or its error. */
  declare readonly fail: (error: unknown) => void;

  constructor(
    policies: TargetPolicies,
    info: CallInfo,
    start: StartAttempt,
    deadlineAt: number,
    done: (value: unknown) => void,
    fail: (error: unknown) => void,
  ) {
    this.policies = policies;
    this.info = info;
    this.start = start;
    this.deadlineAt = deadlineAt;
    this.done = done;
    this.fail = fail;
    this.attemptNo = 0;
    this.last = undefined;
    this.fast = false;
    this.timedPrev = undefined;
    this.timedNext = undefined;
    this.timedList = undefined;
    this.expiresAt = 0;
    this.open = false;
    this.timeoutMs = 0;
    this.startedAt = 0;
    this.listener = undefined;
    this.cancelledWith = undefined;
  }

  /** A new attempt starts, at `at`. */
  begin(timeoutMs: number, at: number): void {
    this.open = true;
    this.timeoutMs = timeoutMs;
    this.startedAt = at;
    this.listener = undefined;
    this.cancelledWith = undefined;
  }

  onCancel(listener: CancelListener): void {
    if (this.cancelledWith) tell(listener, this.cancelledWith);
    else this.listener = listener;
  }

  /** The attempt's timeout passed: it rejects with this reason, so the breaker counts a timeout. */
  expire(): void {
    this.cancelledWith = new AttemptTimeoutError(this.timeoutMs);
    if (this.listener) tell(this.listener, this.cancelledWith);
  }

  /** The attempt's outcome (once per attempt). */
  resolve(value: unknown): void {
    if (!this.end()) return;
    this.policies.succeeded(this, value);
  }

  reject(error: unknown): void {
    if (!this.end()) return;
    this.policies.failed(this, error);
  }

  private end(): boolean {
    if (!this.open) return false;
    this.open = false;
    this.listener = undefined;
    return true;
  }
}
