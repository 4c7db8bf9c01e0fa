import { TRPCError } from '@trpc/server';
import { CALLS_HEADER } from './headers.js';
import { ID_RULE, isWellFormedId } from './ids.js';

/**
 * `x-switchyard-calls`: what belongs to each call of an HTTP request, for calls the mesh client
 * makes (calls made for different requests may share one HTTP request). A JSON array, one entry
 * per call in batch order, every field optional:
 *
 *     [{"r":"<request id>","d":<budget ms>,"t":{"traceparent":"..."},"k":"<idempotency key>"}, ...]
 *
 * In a request of one call, the entry overrides the request's own headers (`x-request-id`,
 * `x-deadline-ms`, `traceparent`, `Idempotency-Key`) and a missing field is theirs. In a batch, a
 * missing `d` is the request's own budget, and any other missing field what its absent header
 * means (a new request id, no trace, no key). A server that does not know the header (stock tRPC)
 * still answers the request, without these.
 */

/** One call's entry, as the mesh client knows it. */
export interface CallFields {
  readonly requestId?: string | undefined;
  /** The call's remaining budget, in whole ms. */
  readonly budgetMs?: number | undefined;
  /** Trace headers (`traceparent`, `tracestate`, ...). */
  readonly trace?: Readonly<Record<string, string>> | undefined;
  readonly idempotencyKey?: string | undefined;
}

/** The header's value for `calls`, or `undefined` when no call has anything to say. */
export function encodeCalls(calls: readonly CallFields[]): string | undefined {
  let any = false;
  const entries = calls.map((call) => {
    const entry: Record<string, unknown> = {};
    // A malformed id would make the callee refuse the whole request: left out (the callee
    // makes one), as a malformed x-request-id header is replaced, not refused.
    if (call.requestId !== undefined && isWellFormedId(call.requestId)) entry.r = call.requestId;
    if (call.budgetMs !== undefined && call.budgetMs > 0) entry.d = Math.floor(call.budgetMs);
    if (call.trace !== undefined && Object.keys(call.trace).length > 0) entry.t = call.trace;
    if (call.idempotencyKey !== undefined) entry.k = call.idempotencyKey;
    if (Object.keys(entry).length > 0) any = true;
    return entry;
  });
  return any ? JSON.stringify(entries) : undefined;
}

/** One entry once checked. */
export interface CallEntry {
  readonly requestId: string | undefined;
  readonly budgetMs: number | undefined;
  readonly trace: Readonly<Record<string, string>> | undefined;
  readonly idempotencyKey: string | undefined;
}

const MAX_TRACE_FIELDS = 8;
/** W3C baggage may be 8192 bytes. */
const MAX_TRACE_VALUE = 8192;
const TRACE_KEY = /^[a-z0-9_-]{1,64}$/;

/** A 400 naming the header, the entry and the field. */
function bad(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_REQUEST', message: `${CALLS_HEADER}: ${message}` });
}

/**
 * Reads the header: one entry per call of the request (`calls`), each field checked as its own
 * header would be. Throws a BAD_REQUEST naming the entry and the field that is wrong.
 */
export function decodeCalls(value: string | string[] | undefined, calls: number): CallEntry[] {
  if (typeof value !== 'string') throw bad('must be sent once');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw bad('is not JSON');
  }
  if (!Array.isArray(parsed)) throw bad('must be a JSON array, one entry per call');
  if (parsed.length !== calls) throw bad(`has ${parsed.length} entries for ${calls} calls`);
  return parsed.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad(`entry ${i} must be an object`);
    const { r, d, t, k } = entry as Record<string, unknown>;
    if (r !== undefined && (typeof r !== 'string' || !isWellFormedId(r))) throw bad(`entry ${i}: "r" (request id) ${ID_RULE}`);
    if (d !== undefined && (typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
      throw bad(`entry ${i}: "d" (budget) must be a whole number of milliseconds`);
    }
    if (k !== undefined && (typeof k !== 'string' || !isWellFormedId(k)))
      throw bad(`entry ${i}: "k" (idempotency key) ${ID_RULE}`);
    if (t !== undefined && (t === null || typeof t !== 'object' || Array.isArray(t)))
      throw bad(`entry ${i}: "t" (trace) must be an object`);
    if (t !== undefined && !isTrace(t as object)) {
      throw bad(`entry ${i}: "t" (trace) must hold at most ${MAX_TRACE_FIELDS} header names with string values`);
    }
    return {
      requestId: r as string | undefined,
      budgetMs: d as number | undefined,
      trace: t as Record<string, string> | undefined,
      idempotencyKey: k as string | undefined,
    };
  });
}

function isTrace(t: object): t is Record<string, string> {
  const fields = Object.entries(t);
  return (
    fields.length <= MAX_TRACE_FIELDS &&
    fields.every(([key, v]) => TRACE_KEY.test(key) && typeof v === 'string' && v.length <= MAX_TRACE_VALUE)
  );
}
