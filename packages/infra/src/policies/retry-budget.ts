/** Options of {@link RetryBudget}, as Linkerd and Envoy define a retry budget. */
export interface RetryBudgetOptions {
  /** Retries allowed as a share of calls in the window. @default 0.2 */
  ratio?: number;
  /** Retries allowed per second whatever the traffic, so a quiet client can still retry. @default 1 */
  minPerSecond?: number;
  /** The window calls and retries are counted over, in ms. @default 10000 */
  windowMs?: number;
}

/**
 * Bounds the extra load retries add: within any window, retries may be at most
 * `ratio * calls + minPerSecond * windowSeconds`. So a failing service receives at most about
 * `(1 + ratio)` times its offered load, however many callers retry.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly bucketMs: number;
  private readonly calls: number[];
  private readonly retries: number[];
  private bucketStart = 0;
  /** When the current bucket ends (bucketStart + bucketMs). */
  private bucketEnd = 0;
  private index = 0;

  constructor(
    options: RetryBudgetOptions = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.ratio = options.ratio ?? 0.2;
    const windowMs = options.windowMs ?? 10_000;
    if (!(this.ratio >= 0) || !(windowMs >= 1000)) throw new RangeError('RetryBudget: ratio must be >= 0 and windowMs >= 1000');
    this.floor = (options.minPerSecond ?? 1) * (windowMs / 1000);
    const buckets = 10;
    this.bucketMs = windowMs / buckets;
    this.calls = new Array<number>(buckets).fill(0);
    this.retries = new Array<number>(buckets).fill(0);
    this.bucketStart = this.clock();
    this.bucketEnd = this.bucketStart + this.bucketMs;
  }

  /** Counts one original call (not a retry). `at`: the clock's time now, when the caller has just read it. */
  recordCall(at: number = this.clock()): void {
    if (at >= this.bucketEnd) this.advance(at);
    this.calls[this.index]! += 1;
  }

  /** Takes one retry from the budget; `false` when the budget is spent. */
  tryRetry(): boolean {
    this.advance();
    const calls = this.calls.reduce((a, b) => a + b, 0);
    const retries = this.retries.reduce((a, b) => a + b, 0);
    if (retries >= this.ratio * calls + this.floor) return false;
    this.retries[this.index]! += 1;
    return true;
  }

  private advance(at: number = this.clock()): void {
    let steps = Math.floor((at - this.bucketStart) / this.bucketMs);
    if (steps <= 0) return;
    this.bucketStart += steps * this.bucketMs;
    this.bucketEnd = this.bucketStart + this.bucketMs;
    steps = Math.min(steps, this.calls.length);
    for (let i = 0; i < steps; i++) {
      this.index = (this.index + 1) % this.calls.length;
      this.calls[this.index] = 0;
      this.retries[this.index] = 0;
    }
  }
}
