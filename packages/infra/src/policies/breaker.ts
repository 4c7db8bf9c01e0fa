import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  type IBreaker,
} from 'cockatiel';
import { now } from './deadline.js';

/** Options of {@link breakerParts}. Durations in ms. */
export interface BreakerOptions {
  /** Opens after this many failures in a row. @default 5 */
  consecutiveFailures?: number;
  /** Or when this share of calls fails within the window... @default 0.5 */
  failureRatio?: number;
  /** ...counted over this window... @default 10000 */
  windowMs?: number;
  /** ...once the window holds at least this many calls. @default 20 */
  minimumCalls?: number;
  /** The first wait before a probe; it doubles (with jitter) while probes fail. @default 1000 */
  halfOpenAfterMs?: number;
  /** The longest wait before a probe. @default 30000 */
  halfOpenMaxMs?: number;
}

/**
 * The failure-ratio rule: the calls of the last `windowMs`, in ten buckets on the deadlines' clock
 * (cockatiel's SamplingBreaker counts the same, but reads `Date.now()` for every success: a C++
 * call per guarded call). Opens when at least `minimumCalls` were made in the window and more than
 * `threshold` of them failed.
 */
export class FailureRatio {
  private readonly bucketMs: number;
  private readonly successes: number[];
  private readonly failures: number[];
  private index = 0;
  /** When the current bucket ends. */
  private bucketEnd: number;
  private totalSuccesses = 0;
  private totalFailures = 0;

  constructor(
    private readonly threshold: number,
    windowMs: number,
    private readonly minimumCalls: number,
    private readonly clock: () => number = now,
  ) {
    if (!(threshold > 0 && threshold < 1))
      throw new RangeError(`breaker: failureRatio must be between 0 and 1, got ${threshold}`);
    if (!(windowMs >= 100)) throw new RangeError(`breaker: windowMs must be at least 100, got ${windowMs}`);
    const buckets = 10;
    this.bucketMs = windowMs / buckets;
    this.successes = new Array<number>(buckets).fill(0);
    this.failures = new Array<number>(buckets).fill(0);
    this.bucketEnd = this.clock() + this.bucketMs;
  }

  /** A success at `at` (the clock's time, when the caller has just read it). */
  success(at: number = this.clock()): void {
    if (at >= this.bucketEnd) this.advance(at);
    this.successes[this.index]! += 1;
    this.totalSuccesses++;
  }

  /** A failure; whether the window's ratio now says open. */
  failure(at: number = this.clock()): boolean {
    if (at >= this.bucketEnd) this.advance(at);
    this.failures[this.index]! += 1;
    this.totalFailures++;
    const total = this.totalSuccesses + this.totalFailures;
    return total >= this.minimumCalls && this.totalFailures > this.threshold * total;
  }

  /** Forgets every call (a probe succeeded: the circuit starts afresh). */
  reset(): void {
    this.successes.fill(0);
    this.failures.fill(0);
    this.totalSuccesses = this.totalFailures = 0;
  }

  /** Moves to the bucket holding `at`, emptying the buckets that fell out of the window. */
  private advance(at: number): void {
    const steps = Math.min(Math.floor((at - this.bucketEnd) / this.bucketMs) + 1, this.successes.length);
    for (let i = 0; i < steps; i++) {
      this.index = (this.index + 1) % this.successes.length;
      this.totalSuccesses -= this.successes[this.index]!;
      this.totalFailures -= this.failures[this.index]!;
      this.successes[this.index] = 0;
      this.failures[this.index] = 0;
    }
    this.bucketEnd += (Math.floor((at - this.bucketEnd) / this.bucketMs) + 1) * this.bucketMs;
  }
}

/**
 * Opens when either rule says so: consecutive failures (cockatiel's ConsecutiveBreaker), or the
 * failure ratio over the window. A cockatiel breaker strategy; the target policies also count a
 * success of the closed circuit on it directly ({@link closedSuccess}).
 */
export class EitherBreaker implements IBreaker {
  constructor(
    private readonly consecutive: ConsecutiveBreaker,
    private readonly ratio: FailureRatio,
  ) {}

  /** Not kept across processes: the counts start afresh (cockatiel's policy state serialization). */
  get state(): unknown {
    return { consecutive: this.consecutive.state };
  }

  set state(value: unknown) {
    this.consecutive.state = (value as { consecutive: number }).consecutive;
  }

  /** A success while closed, at `at` on the deadlines' clock. */
  closedSuccess(at: number): void {
    this.consecutive.success();
    this.ratio.success(at);
  }

  success(state: CircuitState): void {
    this.consecutive.success();
    if (state === CircuitState.HalfOpen) this.ratio.reset();
    this.ratio.success();
  }

  failure(state: CircuitState): boolean {
    const byCount = this.consecutive.failure();
    const byRatio = this.ratio.failure();
    // cockatiel asks only while closed; a failed probe re-opens whatever the counts say.
    return byCount || byRatio || state !== CircuitState.Closed;
  }
}

/**
 * A cockatiel circuit breaker that counts only the errors `isFailure` accepts (so 4xx answers and
 * the breaker's own rejections never open it), with exponential backoff between half-open probes;
 * and its counting strategy: while the circuit is closed, the
 * target policies record successes on the strategy directly (what cockatiel's closed state does,
 * without its promise layers) and hand failures to the policy, which decides to open.
 */
export function breakerParts(
  options: BreakerOptions,
  isFailure: (error: unknown) => boolean,
): { policy: CircuitBreakerPolicy; strategy: EitherBreaker } {
  const strategy = new EitherBreaker(
    new ConsecutiveBreaker(options.consecutiveFailures ?? 5),
    new FailureRatio(options.failureRatio ?? 0.5, options.windowMs ?? 10_000, options.minimumCalls ?? 20),
  );
  const policy = circuitBreaker(handleWhen(isFailure), {
    breaker: strategy,
    halfOpenAfter: new ExponentialBackoff({
      initialDelay: options.halfOpenAfterMs ?? 1_000,
      maxDelay: options.halfOpenMaxMs ?? 30_000,
    }),
  });
  return { policy, strategy };
}

export { CircuitState };
