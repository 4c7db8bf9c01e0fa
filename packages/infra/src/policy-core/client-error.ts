import { TRPCClientError } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { ERROR_CATALOG, type ErrorCode } from '../errors/catalog.js';

/**
 * A client error shaped like the services' own (`data.code`, `appCode`, `httpStatus`,
 * `retryable`, from the one catalog), for failures a client decides itself (a timeout, an open
 * breaker, an answer that was lost), so callers handle every failure one way.
 */
export function meshClientError(appCode: ErrorCode, message: string, cause?: unknown): TRPCClientError<never> {
  const entry = ERROR_CATALOG[appCode];
  const httpStatus = getHTTPStatusCodeFromError(new TRPCError({ code: entry.trpc }));
  return TRPCClientError.from(
    {
      error: {
        code: TRPC_ERROR_CODES_BY_KEY[entry.trpc],
        message,
        data: { code: entry.trpc, appCode, httpStatus, retryable: entry.retryable },
      },
    },
    cause instanceof Error ? { cause } : {},
  );
}
