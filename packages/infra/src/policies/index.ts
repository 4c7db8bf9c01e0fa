export { fullJitterDelay, parseRetryAfter, type BackoffOptions } from '../policy-core/backoff.js';
export { CircuitState, type BreakerOptions } from './breaker.js';
export { DEADLINE_HEADER, MAX_DEADLINE_MS, now, parseDeadlineHeader, remainingMs } from './deadline.js';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
export { type CallInfo, type CallSink, type Cancellable, type CancelListener, type StartAttempt } from './call-attempt.js';
export { CallRejectedError } from './call-outcome.js';
export { type CallPolicyOptions, type PolicyEvents } from './policy-options.js';
export { TargetPolicies } from './target-policies.js';
