import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Contract } from '@switchyard/api-contracts';
import type { z } from 'zod';
import type { TargetUrl } from '../config/url-list.js';
import type { CallPolicyOptions } from '../policies/policy-options.js';
import type { TargetPolicies } from '../policies/target-policies.js';
import type { RequestContext } from '../trpc/context.js';

/** The part of a request's context an outbound call carries on: request id, deadline, trace. */
export type CallContext = Pick<RequestContext, 'requestId' | 'deadlineAt' | 'otel'>;

/** Options of {@link createServiceClient}. */
export interface CreateServiceClientOptions<C extends Contract> {
  /** The target service's name: metrics label and breaker identity. */
  target: string;
  contract: C;
  /**
   * The target's base URL, e.g. `http://127.0.0.1:4002` (the client calls `<url>/trpc`), or the
   * base URLs of each of its instances: each attempt goes to the next in turn, and a retry to
   * another instance than the one that just failed. The breaker, bulkhead and metrics are the
   * target's, shared by its instances. An empty list throws.
   * @example url: ['http://auth-1:4002', 'http://auth-2:4003']
   */
  url: TargetUrl;
  /** This service's identity, sent as its credential. */
  caller?: { service: string; key: string };
  /** Headers sent with every request, e.g. a user's `authorization` for clients outside the mesh. */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Calls per HTTP batch: the target's `MAX_BATCH_SIZE`. @default 20 */
  maxBatchSize?: number;
  /**
   * Deadline, retries, breaker and bulkhead settings. `false` sends calls straight to the
   * transport: no deadline (no budget sent on), retry, breaker or bulkhead; identity, request id,
   * trace, spans and metrics as with them. For benchmarks measuring what the policies cost, and
   * one-off scripts.
   */
  policies?: CallPolicyOptions | false;
  /** Where the client metrics go (the service's registry). @default a private registry */
  registry?: Registry;
  logger?: Logger;
}

/** Options of one call. */
export interface CallOptions {
  /** Ends the call when it fires: the call rejects with `CLIENT_CLOSED_REQUEST` at once. */
  signal?: AbortSignal;
}

/**
 * The procedures of a contract as a caller sees them: `query` for queries, `mutate` for
 * mutations, typed from the contract's schemas, with only the options the client honours.
 */
export type ServiceCallers<C extends Contract> = {
  readonly [K in keyof C]: C[K]['type'] extends 'query'
    ? { query(input: z.input<C[K]['input']>, options?: CallOptions): Promise<z.output<C[K]['output']>> }
    : { mutate(input: z.input<C[K]['input']>, options?: CallOptions): Promise<z.output<C[K]['output']>> };
};

/** A typed client of one service, guarded by the policies. */
export interface ServiceClient<C extends Contract> {
  readonly target: string;
  readonly policies: TargetPolicies;
  /** The breaker's state by name, for status views: `closed`, `open`, `half-open` or `isolated`. */
  breakerState(): BreakerStateName;
  /**
   * The tRPC client for calls made while serving `ctx`: they carry its request id, remaining
   * deadline and trace, and calls made in the same event-loop turn share one HTTP request.
   * Without `ctx`, calls start a new request. Each call of `with(ctx)` makes a new client (a
   * Proxy on the context: cheap); the mutations marked idempotent made through one client share
   * its idempotency key, each with its own retries.
   * @example await auth.with(ctx).getUser.query({ id })
   */
  with(ctx?: CallContext): ServiceCallers<C>;
}

export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';
/** The breaker states' names, by `CircuitState`. */
export const STATE_NAMES: readonly BreakerStateName[] = ['closed', 'open', 'half-open', 'isolated'];
