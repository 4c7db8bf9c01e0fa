import { TRPCClientError } from '@trpc/client';
import { parseRetryAfter } from '@switchyard/infra/policy-core';

/** What a failed attempt tells the policies: its status, who answered, and any wait asked for. */
export interface Failure {
  status: number | undefined;
  /** Answered by the service itself (a tRPC error body), not by a gateway or the network. */
  fromService: boolean;
  retryAfterMs: number | undefined;
  /** The attempt got no answer within its per-try timeout (it was ended by the client). */
  timedOut: boolean;
}

/** An attempt the client ended because its per-try timeout passed. */
export class AttemptTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within the per-try timeout of ${timeoutMs} ms`);
    this.name = 'AttemptTimeout';
  }
}

/** Reads a failed attempt: a client error with the service's data or the gateway's response, or a timeout. */
export function failureOf(error: unknown): Failure {
  if (error instanceof AttemptTimeout) return { status: undefined, fromService: false, retryAfterMs: undefined, timedOut: true };
  const clientError = error instanceof TRPCClientError ? error : undefined;
  const data = clientError?.data as { httpStatus?: number } | undefined;
  const response = (clientError?.meta as { response?: Response } | undefined)?.response;
  return {
    status: data?.httpStatus ?? response?.status,
    fromService: data?.httpStatus !== undefined,
    retryAfterMs: parseRetryAfter(response?.headers.get('retry-after')),
    timedOut: false,
  };
}

/** The idempotency key a mutation carries in its context (`mutate(input, { context: { idempotencyKey } })`). */
export function idempotencyKeyOf(context: Record<string, unknown> | undefined): string | undefined {
  const key = context?.idempotencyKey;
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

/**
 * The budget to send as `x-deadline-ms` for a request carrying these operations: the smallest of
 * their attempts' budgets (set by the policy link in each operation's context), if any.
 */
export function budgetOf(ops: ReadonlyArray<{ context: Record<string, unknown> }>): Record<string, string> {
  let budget = Infinity;
  for (const op of ops) {
    const ms = op.context.attemptBudgetMs;
    if (typeof ms === 'number' && ms < budget) budget = ms;
  }
  return Number.isFinite(budget) ? { 'x-deadline-ms': String(Math.max(1, Math.floor(budget))) } : {};
}
