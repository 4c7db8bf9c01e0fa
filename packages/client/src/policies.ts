import { TRPCClientError, type OperationResultEnvelope, type TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { fullJitterDelay, mayHaveRun, mayRetryStatus, meshClientError, parseRetryAfter } from '@switchyard/infra/policy-core';

/** Per-call policies of {@link createSwitchyardClient} (the mesh's own, where they fit a client). */
export interface PolicyOptions {
  /** A call's overall time limit, retries included. @default 10000 */
  timeoutMs?: number;
  /** Attempts of a query, the first included (mutations: 1). @default 3 */
  maxAttempts?: number;
  /** Full-jitter backoff between attempts. @default { baseMs: 50, capMs: 1000 } */
  backoff?: { baseMs: number; capMs: number };
}

type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AnyTRPCRouter>>;

interface Failure {
  status: number | undefined;
  /** Answered by the service itself (a tRPC error body), not by a gateway or the network. */
  fromService: boolean;
  retryAfterMs: number | undefined;
}

function failureOf(error: unknown): Failure {
  const clientError = error instanceof TRPCClientError ? error : undefined;
  const data = clientError?.data as { httpStatus?: number } | undefined;
  const response = (clientError?.meta as { response?: Response } | undefined)?.response;
  return {
    status: data?.httpStatus ?? response?.status,
    fromService: data?.httpStatus !== undefined,
    retryAfterMs: parseRetryAfter(response?.headers.get('retry-after')),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The policy link of one service: timeout, retries of queries, lost mutations reported as
 * `OUTCOME_UNKNOWN`, and one token refresh on UNAUTHORIZED.
 */
export function callPolicies(
  options: PolicyOptions,
  target: { service: string; refresh: () => Promise<boolean>; noRefresh?: ReadonlySet<string> },
): TRPCLink<AnyTRPCRouter> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const backoff = options.backoff ?? { baseMs: 50, capMs: 1_000 };
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let unsubscribe: (() => void) | undefined;
        let done = false;
        const attempt = () =>
          new Promise<Envelope>((resolve, reject) => {
            const subscription = next(op).subscribe({ next: resolve, error: reject });
            unsubscribe = () => subscription.unsubscribe();
          });
        const deadline = Date.now() + timeoutMs;
        const timer = setTimeout(() => {
          if (done) return;
          done = true;
          unsubscribe?.(); // httpBatchLink aborts the request once no call waits on it
          observer.error(meshClientError('DEADLINE_EXCEEDED', `${target.service}.${op.path}: no answer within ${timeoutMs} ms`));
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
              if (op.type === 'mutation') {
                // A gateway's 502/504 or a broken connection: the mutation may have run. Never repeat it.
                if (mayHaveRun({ ...failure, sent: true })) {
                  throw meshClientError(
                    'OUTCOME_UNKNOWN',
                    `${target.service}.${op.path}: the call may or may not have run (the answer was lost)`,
                    error,
                  );
                }
                throw error;
              }
              // A query is safe to repeat; a lost connection too (nothing was answered).
              const retryable = failure.status === undefined || mayRetryStatus(failure.status, true);
              const wait = failure.retryAfterMs ?? fullJitterDelay(n - 1, backoff);
              if (!retryable || n >= maxAttempts || Date.now() + wait >= deadline) throw error;
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
