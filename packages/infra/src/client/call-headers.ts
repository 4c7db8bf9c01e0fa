import type { Contract } from '@switchyard/api-contracts';
import { MAX_DEADLINE_MS } from '../policies/deadline.js';
import { CALLS_HEADER, DEADLINE_HEADER, SERVICE_CREDENTIAL_HEADER, encodeCalls } from '../wire/index.js';
import type { AttemptContext } from './context-client.js';
import type { BatchHeaders, OutboundCall } from './transport-options.js';

/** Calls in a batch from which one budget they share is sent once (see sharedBudget). */
const SHARED_BUDGET_CALLS = 4;

/** The trace headers of a call made without a span (shared, never written to). */
export const NO_TRACE: Record<string, string> = {};

/**
 * The budget every call of a batch of at least {@link SHARED_BUDGET_CALLS} has, when they have
 * the same (calls bound by one timeout, or made in one turn for one request), else 0: sent once,
 * as `x-deadline-ms`, which keeps a batch's header short.
 */
function sharedBudget(calls: ReadonlyArray<OutboundCall<AttemptContext>>): number {
  if (calls.length < SHARED_BUDGET_CALLS) return 0;
  const budget = calls[0]!.extra.budgetMs;
  for (let i = 1; i < calls.length; i++) if (calls[i]!.extra.budgetMs !== budget) return 0;
  return budget;
}

/** How a client's calls become request headers. */
export interface CallHeaders {
  /** The headers of one HTTP request, from the calls it carries. */
  readonly batchHeaders: BatchHeaders<AttemptContext>;
  /** About what a call adds to x-switchyard-calls, so that a batch's headers stay bounded. */
  readonly callHeaderBytes: (call: OutboundCall<AttemptContext>) => number;
}

/** The headers of a client of `contract`'s calls, with its `credential` if it has one. */
export function callHeaders(contract: Contract, credential: string | undefined): CallHeaders {
  const keyed = (call: OutboundCall<AttemptContext>) => call.type === 'mutation' && contract[call.path]?.idempotent === true;

  /**
   * The headers of one HTTP request: the caller's credential (and the `headers` option's answer,
   * its first call's), and what belongs to each call (request id, remaining budget, trace,
   * idempotency key) in x-switchyard-calls, one entry per call, also for a call alone.
   */
  const batchHeaders: BatchHeaders<AttemptContext> = (calls) => {
    const first = calls[0]!.extra;
    const headers: Record<string, string> = first.headers ? { ...first.headers } : {};
    if (credential) headers[SERVICE_CREDENTIAL_HEADER] = credential;
    const budget = sharedBudget(calls);
    if (budget > 0) headers[DEADLINE_HEADER] = String(Math.min(budget, MAX_DEADLINE_MS));
    const value = encodeCalls(
      calls.map((call) => {
        const { scope, budgetMs, trace: t } = call.extra;
        return {
          requestId: scope.ctx?.requestId,
          // A budget the calls share goes once, as x-deadline-ms: an entry without one means it.
          budgetMs: budget > 0 ? undefined : budgetMs,
          trace: t === NO_TRACE ? undefined : t,
          idempotencyKey: keyed(call) ? scope.idempotencyKey() : undefined,
        };
      }),
    );
    if (value !== undefined) headers[CALLS_HEADER] = value;
    return headers;
  };

  /** About what a call adds to x-switchyard-calls, so that a batch's headers stay bounded. */
  const callHeaderBytes = (call: OutboundCall<AttemptContext>) => {
    const { scope, trace: t } = call.extra;
    let bytes = 40 + (scope.ctx?.requestId.length ?? 0) + (keyed(call) ? 140 : 0);
    for (const key in t) bytes += key.length + t[key]!.length + 8;
    return bytes;
  };

  return { batchHeaders, callHeaderBytes };
}
