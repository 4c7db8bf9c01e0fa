export { fullJitterDelay, parseRetryAfter, type BackoffOptions } from '../policy-core/backoff.js';
export { CircuitState, type BreakerOptions } from './breaker.js';
export { DEADLINE_HEADER, MAX_DEADLINE_MS, now, parseDeadlineHeader, remainingMs } from './deadline.js';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
export {
  CallRejectedError,
  TargetPolicies,
  type CallInfo,
  type CallSink,
  type Cancellable,
  type CancelListener,
  type StartAttempt,
  type CallPolicyOptions,
  type PolicyEvents,
} from './target-policies.js';
