import { TRPCClientError } from '@trpc/client';
import type { z } from 'zod';
import type { Contract } from '@switchyard/api-contracts';

const FALLBACK_CODES = new Set(['CIRCUIT_OPEN', 'BULKHEAD_FULL', 'UPSTREAM_UNAVAILABLE', 'DEADLINE_EXCEEDED', 'UNAVAILABLE']);

/**
 * Whether an error means the service could not answer (as opposed to refusing the request): the
 * policies' own codes, a 503, or an answer that is not a mesh error at all (a proxy's page, garbage).
 */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const appCode = (error.data as { appCode?: string } | undefined)?.appCode;
  return appCode === undefined || FALLBACK_CODES.has(appCode);
}

/**
 * A call with a typed fallback: when the target cannot answer (circuit open, unreachable,
 * deadline, overloaded), resolves to `fallback` instead. The fallback is typed by the procedure's
 * output and parsed by its output schema; a refusal (4xx) is never replaced.
 * @example const author = await withFallback(authContract, 'getUser', auth.with(ctx).getUser.query({ id }), { id, name: 'unknown' });
 */
export async function withFallback<C extends Contract, K extends keyof C & string>(
  contract: C,
  procedure: K,
  call: Promise<z.output<C[K]['output']>>,
  fallback: z.input<C[K]['output']>,
): Promise<z.output<C[K]['output']>> {
  const value = contract[procedure]!.output.parse(fallback) as z.output<C[K]['output']>;
  try {
    return await call;
  } catch (error) {
    if (isUnavailable(error)) return value;
    throw error;
  }
}
