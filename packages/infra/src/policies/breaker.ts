import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  SamplingBreaker,
  circuitBreaker,
  handleWhen,
  type IBreaker,
} from 'cockatiel';

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

/** Opens when either rule says so: consecutive failures, or a failure ratio over a sampled window. */
class EitherBreaker implements IBreaker {
  constructor(
    private readonly consecutive: ConsecutiveBreaker,
    private readonly sampling: SamplingBreaker,
  ) {}

  get state(): unknown {
    return { consecutive: this.consecutive.state, sampling: this.sampling.state };
  }

  set state(value: unknown) {
    const v = value as { consecutive: number; sampling: unknown };
    this.consecutive.state = v.consecutive;
    this.sampling.state = v.sampling;
  }

  success(state: CircuitState): void {
    this.consecutive.success();
    this.sampling.success(state);
  }

  failure(state: CircuitState): boolean {
    const byCount = this.consecutive.failure();
    const byRatio = this.sampling.failure(state);
    return byCount || byRatio;
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
): { policy: CircuitBreakerPolicy; strategy: IBreaker } {
  const windowMs = options.windowMs ?? 10_000;
  const strategy = new EitherBreaker(
    new ConsecutiveBreaker(options.consecutiveFailures ?? 5),
    new SamplingBreaker({
      threshold: options.failureRatio ?? 0.5,
      duration: windowMs,
      minimumRps: (options.minimumCalls ?? 20) / (windowMs / 1000),
    }),
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
