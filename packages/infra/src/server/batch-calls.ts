import { TRPCError } from '@trpc/server';
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { isWellFormedIdempotencyKey } from '../idempotency/idempotency-store.js';
import { MAX_DEADLINE_MS } from '../policies/deadline.js';
import { extractTraceContext } from '../tracing/tracing.js';
import { isWellFormedRequestId } from './request-id.js';

/**
 * The header in which the mesh client sends what belongs to each call: its request id, deadline,
 * trace and idempotency key. Calls made while serving different requests share one HTTP request
 * (see the service client), so these travel per call; a call alone sends them the same way (one
 * header, where separate ones cost the callee ~3,600 instructions each in node's HTTP parsing). A
 * JSON array, one entry per call in batch order:
 *
 *     [{"r":"<request id>","d":<budget ms>,"t":{"traceparent":"..."},"k":"<idempotency key>"}, ...]
 *
 * Every field is optional. In a request of one call, the entry overrides the request's own headers
 * (`x-request-id`, `x-deadline-ms`, `traceparent`, `Idempotency-Key`) and a missing field is theirs.
 * In a batch, a missing `d` means the request's own budget (its `x-deadline-ms`, else the default
 * deadline), and any other missing field what its absent header means (a new request id, no
 * trace, no idempotency key), never the request-level header's value, which belongs to one call.
 * Without an `x-request-id` header, the response's is the first call's. A server that does not
 * know this header (stock tRPC) still answers the request, without these.
 */
export const BATCH_CALLS_HEADER = 'x-switchyard-calls';

/** One entry of {@link BATCH_CALLS_HEADER} as sent. */
export interface BatchCallEntry {
  /** The request id the call was made for. */
  r?: string;
  /** The call's remaining budget, in ms. */
  d?: number;
  /** The call's trace headers (`traceparent`, `tracestate`, ...). */
  t?: Record<string, string>;
  /** The call's idempotency key (idempotent mutations only). */
  k?: string;
}

/** What a call of a batch carries on, in the form the request context holds it. */
export interface CallOrigin {
  readonly requestId: string;
  readonly deadlineAt: number;
  readonly otel: Context;
  readonly idempotencyKey?: string | undefined;
}

/** One entry of {@link BATCH_CALLS_HEADER} once checked: the fields it has. */
export interface CallEntry {
  readonly requestId: string | undefined;
  readonly budgetMs: number | undefined;
  readonly otel: Context | undefined;
  readonly idempotencyKey: string | undefined;
}

const MAX_TRACE_FIELDS = 8;
/** W3C baggage may be 8192 bytes. */
const MAX_TRACE_VALUE = 8192;
const TRACE_KEY = /^[a-z0-9_-]{1,64}$/;

/** One entry as the mesh client writes it: a request id, perhaps a budget, perhaps a key. */
const QUICK_ENTRY = '\\{"r":"[A-Za-z0-9._:-]{8,128}"(?:,"d":(?:0|[1-9]\\d{0,14}))?(?:,"k":"[A-Za-z0-9._:-]{8,128}")?\\}';

/**
 * A header of such entries only, in that field order (the mesh client's): ids and keys as
 * isWellFormedRequestId and isWellFormedIdempotencyKey accept them, budgets JSON whole numbers.
 */
const QUICK = new RegExp(`^\\[${QUICK_ENTRY}(?:,${QUICK_ENTRY})*\\]$`);

/**
 * The entries of a header {@link QUICK} accepts, read by position (no JSON.parse, no match
 * arrays); `undefined` when there are not `calls` of them.
 */
function quickEntries(value: string, calls: number): CallEntry[] | undefined {
  const entries: CallEntry[] = [];
  // Each entry starts at `{"r":"` (6 characters) after `[` or `,`.
  for (let at = 1; at < value.length; ) {
    const idStart = at + 6;
    const idEnd = value.indexOf('"', idStart);
    at = idEnd + 1;
    let budgetMs: number | undefined;
    if (value.startsWith(',"d":', at)) {
      let ms = 0;
      for (at += 5; ; at++) {
        const digit = value.charCodeAt(at) - 48;
        if (!(digit >= 0 && digit <= 9)) break;
        ms = ms * 10 + digit;
      }
      budgetMs = Math.min(ms, MAX_DEADLINE_MS);
    }
    let key: string | undefined;
    if (value.startsWith(',"k":"', at)) {
      const keyEnd = value.indexOf('"', at + 6);
      key = value.slice(at + 6, keyEnd);
      at = keyEnd + 1;
    }
    entries.push({ requestId: value.slice(idStart, idEnd), budgetMs, otel: undefined, idempotencyKey: key });
    at += 2; // `}` and the `,` or `]` after it
  }
  return entries.length === calls ? entries : undefined;
}

/** A 400 naming the header, the entry and the field. */
function bad(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_REQUEST', message: `${BATCH_CALLS_HEADER}: ${message}` });
}

/**
 * Reads {@link BATCH_CALLS_HEADER}: one entry per call of the request (`calls`), each checked as
 * its own header would be. Throws a BAD_REQUEST naming the entry and field that is wrong.
 */
export function parseBatchCalls(value: string | string[] | undefined, calls: number): CallEntry[] {
  if (typeof value !== 'string') throw bad('must be sent once');
  // Entries as the mesh client writes them without a trace: checked by one expression and read
  // by position (JSON.parse and the checks below cost the callee ~3,000 instructions per call of a
  // batch, under callgrind); anything else, or a count that does not match, is parsed.
  const quick = QUICK.test(value) ? quickEntries(value, calls) : undefined;
  if (quick) return quick;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw bad('is not JSON');
  }
  if (!Array.isArray(parsed)) throw bad('must be a JSON array, one entry per call');
  if (parsed.length !== calls) throw bad(`has ${parsed.length} entries for ${calls} calls`);
  const entries: CallEntry[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const entry: unknown = parsed[i];
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad(`entry ${i} must be an object`);
    const { r, d, t, k } = entry as Record<string, unknown>;
    if (r !== undefined && (typeof r !== 'string' || !isWellFormedRequestId(r))) {
      throw bad(`entry ${i}: "r" (request id) must be 8-128 characters of A-Z a-z 0-9 . _ : -`);
    }
    if (d !== undefined && (typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
      throw bad(`entry ${i}: "d" (budget) must be a whole number of milliseconds`);
    }
    if (k !== undefined && (typeof k !== 'string' || !isWellFormedIdempotencyKey(k))) {
      throw bad(`entry ${i}: "k" (idempotency key) must be 8-128 characters of A-Z a-z 0-9 . _ : -`);
    }
    let otel: Context | undefined;
    if (t !== undefined) {
      if (t === null || typeof t !== 'object' || Array.isArray(t)) throw bad(`entry ${i}: "t" (trace) must be an object`);
      const fields = Object.entries(t);
      if (
        fields.length > MAX_TRACE_FIELDS ||
        fields.some(([key, v]) => !TRACE_KEY.test(key) || typeof v !== 'string' || v.length > MAX_TRACE_VALUE)
      ) {
        throw bad(`entry ${i}: "t" (trace) must hold at most ${MAX_TRACE_FIELDS} header names with string values`);
      }
      otel = extractTraceContext(t as Record<string, string>);
    }
    entries.push({
      requestId: r as string | undefined,
      budgetMs: d === undefined ? undefined : Math.min(d as number, MAX_DEADLINE_MS),
      otel,
      idempotencyKey: k as string | undefined,
    });
  }
  return entries;
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
    deadlineAt: startedAt + (e.budgetMs ?? requestBudgetMs),
    otel: e.otel ?? ROOT_CONTEXT,
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
