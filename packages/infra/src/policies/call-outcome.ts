import { mayRetryStatus } from '../policy-core/retry-rules.js';
import type { CallInfo } from './call-attempt.js';

/** What an attempt's failure says about the request, as the caller can tell. */
export type AttemptOutcome =
  | { kind: 'answered'; status: number; retryAfterMs?: number | undefined }
  /**
   * Refused before anything was sent (e.g. ECONNREFUSED): safe to repeat. `elsewhere`: by one
   * instance of a target whose other instances are still tried, so the target's breaker does not
   * count it (the instance is passed over instead, see client/endpoints.ts).
   */
  | { kind: 'not-sent'; elsewhere?: boolean }
  /** The connection failed after the request may have reached the server. */
  | { kind: 'maybe-sent' }
  | { kind: 'other' };

/** Why a call ended without an answer; `aborted`: the caller's own signal fired. */
export type RejectReason = 'circuit_open' | 'bulkhead_full' | 'deadline' | 'outcome_unknown' | 'unreachable' | 'aborted';

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

/** An attempt's per-try timeout passed. */
export class AttemptTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`attempt timed out after ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

/** Whether a failed attempt of `call` may be repeated, by what is known of its fate. */
export function mayRetry(error: unknown, outcome: AttemptOutcome, call: CallInfo): boolean {
  if (error instanceof AttemptTimeoutError) return call.idempotent;
  switch (outcome.kind) {
    case 'not-sent':
      return true;
    case 'maybe-sent':
      return call.idempotent;
    case 'answered':
      return mayRetryStatus(outcome.status, call.idempotent);
    default:
      return false;
  }
}

/** The reason a retry event names: `timeout`, the HTTP status, or the outcome's kind. */
export function reasonOf(error: unknown, outcome: AttemptOutcome): string {
  if (error instanceof AttemptTimeoutError) return 'timeout';
  return outcome.kind === 'answered' ? String(outcome.status) : outcome.kind;
}
