import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { MAX_DEADLINE_MS } from '../policies/deadline.js';
import { extractTraceContext } from '../tracing/tracing.js';
import type { CallEntry } from '../wire/index.js';

/** What a call of a batch carries on, in the form the request context holds it. */
export interface CallOrigin {
  readonly requestId: string;
  readonly deadlineAt: number;
  readonly otel: Context;
  readonly idempotencyKey?: string | undefined;
}

/**
 * What each call of a batch carries on: its entry's fields, and for a field it lacks what its
 * absent header would mean (a new request id, no trace, no key), never the request-level header's
 * value (which belonged to one call); a missing budget is the request's own.
 * @param startedAt when the request arrived (`now()` clock): budgets count from there.
 * @param requestBudgetMs the request's own budget (its `x-deadline-ms`, else the default deadline).
 */
export function callOrigins(entries: readonly CallEntry[], startedAt: number, requestBudgetMs: number): CallOrigin[] {
  return entries.map((e) => ({
    requestId: e.requestId ?? randomUUID(),
    deadlineAt: startedAt + Math.min(e.budgetMs ?? requestBudgetMs, MAX_DEADLINE_MS),
    otel: e.trace ? extractTraceContext(e.trace) : ROOT_CONTEXT,
    idempotencyKey: e.idempotencyKey,
  }));
}

/** The number of calls a tRPC request carries: the paths of `/a,b,c?batch=1`, else one. */
export function callsInRequest(url: string): number {
  const q = url.indexOf('?');
  if (q === -1 || !/[?&]batch=1(&|$)/.test(url.slice(q))) return 1;
  let n = 1;
  for (let i = url.indexOf(','); i !== -1 && i < q; i = url.indexOf(',', i + 1)) n++;
  return n;
}
