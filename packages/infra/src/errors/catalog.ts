import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';

/**
 * The error catalog: every stable code the mesh sends, its tRPC code (which fixes the HTTP status)
 * and whether repeating the call may help. Codes are never reused or renamed; add new ones.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { trpc: 'BAD_REQUEST', retryable: false },
  PARSE_ERROR: { trpc: 'PARSE_ERROR', retryable: false },
  BATCH_TOO_LARGE: { trpc: 'BAD_REQUEST', retryable: false },
  BAD_REQUEST: { trpc: 'BAD_REQUEST', retryable: false },
  BODY_TOO_LARGE: { trpc: 'PAYLOAD_TOO_LARGE', retryable: false },
  UNAUTHENTICATED: { trpc: 'UNAUTHORIZED', retryable: false },
  FORBIDDEN: { trpc: 'FORBIDDEN', retryable: false },
  NOT_FOUND: { trpc: 'NOT_FOUND', retryable: false },
  PROCEDURE_NOT_FOUND: { trpc: 'NOT_FOUND', retryable: false },
  /** A path that is no route of the service or the gateway (`/metrics` from outside, an unknown service). */
  ROUTE_NOT_FOUND: { trpc: 'NOT_FOUND', retryable: false },
  METHOD_NOT_SUPPORTED: { trpc: 'METHOD_NOT_SUPPORTED', retryable: false },
  CONFLICT: { trpc: 'CONFLICT', retryable: false },
  PRECONDITION_FAILED: { trpc: 'PRECONDITION_FAILED', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { trpc: 'UNSUPPORTED_MEDIA_TYPE', retryable: false },
  RATE_LIMITED: { trpc: 'TOO_MANY_REQUESTS', retryable: true },
  DEADLINE_EXCEEDED: { trpc: 'GATEWAY_TIMEOUT', retryable: true },
  CLIENT_CLOSED_REQUEST: { trpc: 'CLIENT_CLOSED_REQUEST', retryable: false },
  UNAVAILABLE: { trpc: 'SERVICE_UNAVAILABLE', retryable: true },
  INTERNAL: { trpc: 'INTERNAL_SERVER_ERROR', retryable: false },
  NOT_IMPLEMENTED: { trpc: 'NOT_IMPLEMENTED', retryable: false },
  /** A call refused by the caller's circuit breaker: no network attempt was made. */
  CIRCUIT_OPEN: { trpc: 'SERVICE_UNAVAILABLE', retryable: true },
  /** A call refused by the caller's bulkhead (too many calls in flight and queued). */
  BULKHEAD_FULL: { trpc: 'SERVICE_UNAVAILABLE', retryable: true },
  /** A non-idempotent call whose request may have run: the connection failed after it was sent. */
  OUTCOME_UNKNOWN: { trpc: 'BAD_GATEWAY', retryable: false },
  /** A downstream service could not be reached or kept failing. */
  UPSTREAM_UNAVAILABLE: { trpc: 'BAD_GATEWAY', retryable: true },
} as const satisfies Record<string, { trpc: TRPC_ERROR_CODE_KEY; retryable: boolean }>;

/** A stable Switchyard error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The code a plain tRPC error (thrown by tRPC itself or by a handler) maps to. */
const BY_TRPC_CODE: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
  PARSE_ERROR: 'PARSE_ERROR',
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'BODY_TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_SUPPORTED: 'METHOD_NOT_SUPPORTED',
  CONFLICT: 'CONFLICT',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
  TIMEOUT: 'DEADLINE_EXCEEDED',
  CLIENT_CLOSED_REQUEST: 'CLIENT_CLOSED_REQUEST',
  SERVICE_UNAVAILABLE: 'UNAVAILABLE',
  GATEWAY_TIMEOUT: 'DEADLINE_EXCEEDED',
  BAD_GATEWAY: 'UPSTREAM_UNAVAILABLE',
  NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',
};

/** The catalog code for a tRPC code; anything unmapped is `INTERNAL`. */
export function errorCodeForTrpc(code: TRPC_ERROR_CODE_KEY): ErrorCode {
  return BY_TRPC_CODE[code] ?? 'INTERNAL';
}
