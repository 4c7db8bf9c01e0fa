import { TRPCClientError, type OperationResultEnvelope, type TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { fullJitterDelay, mayHaveRun, mayRetryStatus, meshClientError } from '@switchyard/infra/policy-core';
import { AttemptTimeout, failureOf, idempotencyKeyOf } from './failure.js';

/** Per-call policies of {@link createSwitchyardClient} (the mesh's own, where they fit a client). */
export interface PolicyOptions {
  /** A call's overall time limit, retries included. @default 10000 */
  timeoutMs?: number;
  /**
   * The time limit of one attempt of a call that is safe to repeat (a query, or a mutation with
   * an idempotency key): an attempt without an answer by then is ended and made again, so an
   * instance that stopped answering costs this much, not the whole timeout. @default 3000
   */
  perTryTimeoutMs?: number;
  /** Attempts of a query or of a mutation with an idempotency key, the first included (other mutations: 1). @default 3 */
  maxAttempts?: number;
  /** Full-jitter backoff between attempts. @default { baseMs: 50, capMs: 1000 } */
  backoff?: { baseMs: number; capMs: number };
}

type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AnyTRPCRouter>>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The policy link of one service: an overall timeout and per-try timeouts, retries of calls safe
 * to repeat (queries, and mutations carrying an idempotency key), a mutation whose answer was lost
 * or late reported as `OUTCOME_UNKNOWN` (never repeated), and one token refresh on UNAUTHORIZED.
 * Each attempt's budget goes in its operation's context (`attemptBudgetMs`), for `x-deadline-ms`.
 */
export function callPolicies(
  options: PolicyOptions,
  target: { service: string; refresh: () => Promise<boolean>; noRefresh?: ReadonlySet<string> },
): TRPCLink<AnyTRPCRouter> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const perTryTimeoutMs = options.perTryTimeoutMs ?? 3_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const backoff = options.backoff ?? { baseMs: 50, capMs: 1_000 };
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const name = `${target.service}.${op.path}`;
        // A mutation without a key may have run once it is sent: one attempt, and a late or lost
        // answer is OUTCOME_UNKNOWN.
        const repeatable = op.type === 'query' || idempotencyKeyOf(op.context) !== undefined;
        let unsubscribe: (() => void) | undefined;
        let done = false;
        let sent = false;
        const deadline = Date.now() + timeoutMs;
        const attempt = () =>
          new Promise<Envelope>((resolve, reject) => {
            const left = deadline - Date.now();
            const tryMs = repeatable ? Math.min(perTryTimeoutMs, left) : left;
            sent = true;
            const context = { ...op.context, attemptBudgetMs: tryMs };
            let timer: ReturnType<typeof setTimeout> | undefined;
            // httpBatchLink aborts a request once no call waits on it.
            const subscription = next({ ...op, context }).subscribe({
              next: (envelope) => (clearTimeout(timer), resolve(envelope)),
              error: (error) => (clearTimeout(timer), reject(error)),
            });
            if (tryMs < left) {
              timer = setTimeout(() => (subscription.unsubscribe(), reject(new AttemptTimeout(Math.round(tryMs)))), tryMs);
            }
            unsubscribe = () => (clearTimeout(timer), subscription.unsubscribe());
          });
        const timer = setTimeout(() => {
          if (done) return;
          done = true;
          unsubscribe?.();
          observer.error(
            !repeatable && sent
              ? meshClientError('OUTCOME_UNKNOWN', `${name}: no answer within ${timeoutMs} ms; the call may or may not have run`)
              : meshClientError('DEADLINE_EXCEEDED', `${name}: no answer within ${timeoutMs} ms`),
          );
        }, timeoutMs);

        const run = async (): Promise<Envelope> => {
          let refreshed = false;
          for (let n = 1; ; n++) {
            try {
              return await attempt();
            } catch (error) {
              const failure = failureOf(error);
              if (failure.status === 401 && failure.fromService && !refreshed && !target.noRefresh?.has(op.path)) {
                refreshed = true;
                if (await target.refresh()) {
                  n--;
                  continue;
                }
              }
              if (!repeatable) {
                // A gateway's 502/504 or a broken connection: the mutation may have run. Never repeat it.
                if (mayHaveRun({ ...failure, sent: true })) {
                  throw meshClientError(
                    'OUTCOME_UNKNOWN',
                    `${name}: the call may or may not have run (the answer was lost)`,
                    error,
                  );
                }
                throw error;
              }
              // Safe to repeat: a lost connection or an attempt without an answer too.
              const retryable = failure.timedOut || failure.status === undefined || mayRetryStatus(failure.status, true);
              const wait = failure.retryAfterMs ?? fullJitterDelay(n - 1, backoff);
              if (!retryable || n >= maxAttempts || Date.now() + wait >= deadline) {
                if (failure.timedOut) throw meshClientError('DEADLINE_EXCEEDED', `${name}: ${(error as Error).message}`, error);
                throw error;
              }
              await sleep(wait);
              if (done) throw error;
            }
          }
        };

        run().then(
          (envelope) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            observer.next(envelope);
            observer.complete();
          },
          (error: unknown) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            observer.error(error instanceof TRPCClientError ? error : TRPCClientError.from(error as Error));
          },
        );
        return () => {
          if (!done) {
            done = true;
            clearTimeout(timer);
            unsubscribe?.();
          }
        };
      });
}
