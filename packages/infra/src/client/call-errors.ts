import { TRPCClientError } from '@trpc/client';
import type { ErrorCode } from '../errors/catalog.js';
import { parseRetryAfter } from '../policy-core/backoff.js';
import { meshClientError } from '../policy-core/client-error.js';
import { mayHaveRun } from '../policy-core/retry-rules.js';
import type { AttemptOutcome, RejectReason } from '../policies/call-outcome.js';

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
  if (status !== undefined && mayHaveRun({ status, fromService: fromService !== undefined, sent: true }))
    return { kind: 'maybe-sent' };
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

/** The client error of a call the policies ended (see meshClientError). */
export function policyClientError(
  reason: RejectReason,
  message: string,
  target: string,
  cause?: unknown,
): TRPCClientError<never> {
  return meshClientError(REASON_CODE[reason], `${target}: ${message}`, cause);
}
