import type { EventEmitter } from 'cockatiel';
import type { BackoffOptions } from '../policy-core/backoff.js';
import type { BreakerOptions, CircuitState } from './breaker.js';
import type { RejectReason } from './call-outcome.js';
import type { RetryBudgetOptions } from './retry-budget.js';

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
