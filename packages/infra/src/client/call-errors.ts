import { TRPCClientError } from '@trpc/client';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { ERROR_CATALOG, type ErrorCode } from '../errors/catalog.js';
import { parseRetryAfter } from '../policies/backoff.js';
import type { AttemptOutcome, RejectReason } from '../policies/target-policies.js';

/** System error codes that prove a request never left: the connection was never made. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const e of errors) codes.push(...causeCodes(e));
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** What a failed attempt tells about the request: answered (with its status), never sent, or maybe sent. */
export function classifyAttemptError(error: unknown): AttemptOutcome {
  if (!(error instanceof TRPCClientError)) return { kind: 'other' };
  const meta = error.meta as { response?: Response } | undefined;
  const fromService = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  const status = fromService ?? meta?.response?.status;
  // A gateway's own 502/504 (no tRPC error in the body): the instance behind it failed or hung up
  // after the request may have reached it.
  if (fromService === undefined && (status === 502 || status === 504)) return { kind: 'maybe-sent' };
  if (typeof status === 'number') {
    return { kind: 'answered', status, retryAfterMs: parseRetryAfter(meta?.response?.headers.get('retry-after')) };
  }
  const codes = causeCodes(error.cause);
  if (codes.some((code) => NOT_SENT.has(code))) return { kind: 'not-sent' };
  // A fetch that failed on an open connection (reset, closed, hang-up) may have delivered the request.
  return error.cause ? { kind: 'maybe-sent' } : { kind: 'other' };
}

const REASON_CODE: Record<RejectReason, ErrorCode> = {
  circuit_open: 'CIRCUIT_OPEN',
  bulkhead_full: 'BULKHEAD_FULL',
  deadline: 'DEADLINE_EXCEEDED',
  outcome_unknown: 'OUTCOME_UNKNOWN',
  unreachable: 'UPSTREAM_UNAVAILABLE',
  aborted: 'CLIENT_CLOSED_REQUEST',
};

/**
 * A client error shaped like the server's (`data.appCode`, `httpStatus`, `retryable`), for calls the
 * policies ended, so callers handle every failure one way.
 */
export function policyClientError(
  reason: RejectReason,
  message: string,
  target: string,
  cause?: unknown,
): TRPCClientError<never> {
  const appCode = REASON_CODE[reason];
  const entry = ERROR_CATALOG[appCode];
  const httpStatus = getHTTPStatusCodeFromError(new TRPCError({ code: entry.trpc }));
  return TRPCClientError.from(
    {
      error: {
        code: TRPC_ERROR_CODES_BY_KEY[entry.trpc],
        message: `${target}: ${message}`,
        data: { code: entry.trpc, appCode, httpStatus, retryable: entry.retryable },
      },
    },
    cause instanceof Error ? { cause } : {},
  );
}
