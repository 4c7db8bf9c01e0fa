import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import { TRPCClientError } from '@trpc/client';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Contract } from '@switchyard/api-contracts';
import type { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { serviceCredential } from '../identity/service-identity.js';
import { MAX_DEADLINE_MS, now } from '../policies/deadline.js';
import type { CallInfo } from '../policies/call-attempt.js';
import { CallRejectedError } from '../policies/call-outcome.js';
import type { CallPolicyOptions } from '../policies/policy-options.js';
import { TargetPolicies } from '../policies/target-policies.js';
import { CALLS_HEADER, DEADLINE_HEADER, SERVICE_CREDENTIAL_HEADER, encodeCalls, isWellFormedId } from '../wire/index.js';
import { injectTraceContext, tracer, tracingWanted } from '../tracing/tracing.js';
import type { RequestContext } from '../trpc/context.js';
import { classifyAttemptError, policyClientError } from './call-errors.js';
import { clientMetrics } from './client-metrics.js';
import { HttpTransport, type BatchHeaders, type OutboundCall } from './transport.js';
import { observe, type HistogramSeries, type ValueSeries } from '../engine/lean-metrics.js';

/** Calls in a batch from which one budget they share is sent once (see sharedBudget). */
const SHARED_BUDGET_CALLS = 4;

/** The trace headers of a call made without a span (shared, never written to). */
const NO_TRACE: Record<string, string> = {};

/** The part of a request's context an outbound call carries on: request id, deadline, trace. */
export type CallContext = Pick<RequestContext, 'requestId' | 'deadlineAt' | 'otel'>;

/** Options of {@link createServiceClient}. */
export interface CreateServiceClientOptions<C extends Contract> {
  /** The target service's name: metrics label and breaker identity. */
  target: string;
  contract: C;
  /** The target's base URL, e.g. `http://127.0.0.1:4002` (the client calls `<url>/trpc`). */
  url: string;
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
const STATE_NAMES: readonly BreakerStateName[] = ['closed', 'open', 'half-open', 'isolated'];

/** A procedure's metric series, and what the policies know of its queries and mutations. */
interface ProcedureEntry {
  readonly ok: ValueSeries;
  readonly duration: HistogramSeries;
  readonly query: CallInfo;
  readonly mutation: CallInfo;
}

interface AttemptContext {
  budgetMs: number;
  trace: Record<string, string>;
  /** The `headers` option's answer for this call, when there is that option. */
  headers: Record<string, string> | undefined;
  /** The request context the call was made for. */
  scope: ContextClient;
}

/**
 * The calls made through one client of {@link ServiceClient.with}: the target of its Proxy. Its
 * fields are private, so the client shows no keys of its own.
 */
class ContextClient {
  readonly #ctx: CallContext | undefined;
  #key: string | undefined = undefined;

  constructor(ctx: CallContext | undefined) {
    this.#ctx = ctx;
  }

  get ctx(): CallContext | undefined {
    return this.#ctx;
  }

  /**
   * The client's idempotency key, made on first use: a retried idempotent mutation carries the
   * same key, so a server with idempotency keys runs it once. Calls without a context get none.
   */
  idempotencyKey(): string | undefined {
    const ctx = this.#ctx;
    if (!ctx) return undefined;
    return (this.#key ??= isWellFormedId(ctx.requestId) ? `${ctx.requestId.slice(0, 60)}.${randomUUID()}` : randomUUID());
  }
}

/**
 * The call's outcome, or a rejection as soon as the caller's signal fires. The HTTP request
 * itself may carry other calls of its batch, so it is not cut: its answer is dropped.
 */
function untilAborted<T>(outcome: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return outcome;
  const aborted = () => new CallRejectedError('aborted', 'the caller aborted the call', { cause: signal.reason });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    outcome.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A typed client of a service, from its contract alone: superjson, HTTP batching (`maxItems` =
 * the target's batch limit), keep-alive connections (node:http, see transport.ts), and per call
 * a deadline, retries of idempotent calls within a budget, a circuit breaker and a bulkhead per
 * target, service identity, request id and W3C trace propagation, and metrics.
 */
export function createServiceClient<C extends Contract>(options: CreateServiceClientOptions<C>): ServiceClient<C> {
  const { target, contract } = options;
  const bare = options.policies === false;
  const policyOptions =
    options.policies === false ? { breaker: false as const, bulkhead: false as const } : (options.policies ?? {});
  const policies = new TargetPolicies(policyOptions, classifyAttemptError);
  const metrics = clientMetrics(options.registry ?? new Registry());
  const credential = options.caller ? serviceCredential(options.caller.service, options.caller.key) : undefined;
  const log = options.logger?.child({ target });

  metrics.breakerState.set({ target }, policies.state);
  policies.events.onStateChange.addListener((state) => {
    metrics.breakerState.set({ target }, state);
    log?.warn({ breakerState: STATE_NAMES[state] }, 'circuit breaker state changed');
  });
  policies.events.onRetry.addListener(({ procedure, reason }) => metrics.retries.inc({ target, procedure, reason }));
  policies.events.onRejected.addListener(({ reason }) => metrics.rejections.inc({ target, reason }));
  policies.events.onBudgetExhausted.addListener(() => {
    metrics.budgetExhausted.inc({ target });
    log?.warn('retry budget exhausted: not retrying');
  });

  // What each procedure's calls share, made once: its metric series (lean metrics: updated as
  // plain fields) and what the policies know of it.
  const procedures = new Map<string, ProcedureEntry>();
  const procedureOf = (procedure: string): ProcedureEntry => {
    let entry = procedures.get(procedure);
    if (!entry) {
      const def = contract[procedure];
      const timeoutMs = def?.timeoutMs ?? policies.defaultTimeoutMs;
      entry = {
        ok: metrics.requests.series(target, procedure, 'OK'),
        duration: metrics.duration.series(target, procedure),
        query: { procedure, idempotent: true, timeoutMs },
        mutation: { procedure, idempotent: def?.idempotent === true, timeoutMs },
      };
      procedures.set(procedure, entry);
    }
    return entry;
  };

  const transport = new HttpTransport<AttemptContext>({
    url: options.url,
    maxBatchSize: options.maxBatchSize ?? 20,
    headerBytes: (call) => callHeaderBytes(call),
  });
  /** The batching group of every call when there is no `headers` option. */
  const shared = {};

  /** One call: span and metrics, through the policies (deadline, retries, breaker, bulkhead) unless they are off. */
  const guarded = (
    scope: ContextClient,
    path: string,
    type: 'query' | 'mutation',
    input: unknown,
    signal: AbortSignal | undefined,
    headers?: Record<string, string>,
  ): Promise<unknown> => {
    // Without a `headers` option every call's headers are alike but for what travels per call
    // (x-switchyard-calls): calls made for different requests in one event-loop turn share a request.
    const group = options.headers ? scope : shared;
    const { ctx } = scope;
    const procedure = contract[path] ? path : '__unknown__';
    const entry = procedureOf(procedure);
    const started = now();
    const parent = ctx?.otel ?? otelContext.active();
    // A client span only when something records it or a trace is going on (as on the server).
    const span = tracingWanted(parent)
      ? tracer.startSpan(
          `${target}/${path}`,
          { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'trpc', 'rpc.service': target, 'rpc.method': path } },
          parent,
        )
      : undefined;
    let carrier = NO_TRACE;
    if (span) injectTraceContext(trace.setSpan(parent, span), (carrier = {}));
    const finish = (code: string) => {
      (code === 'OK' ? entry.ok : metrics.requests.series(target, procedure, code)).value += 1;
      observe(entry.duration, (now() - started) / 1000);
      if (code !== 'OK') span?.setStatus({ code: SpanStatusCode.ERROR, message: code });
      span?.end();
    };
    const outcome = bare
      ? transport.send(group, { path, type, input, extra: { budgetMs: 0, trace: carrier, headers, scope } }, batchHeaders)
      : policies.execute(
          entry[type],
          (cancellation, sink, budgetMs) =>
            transport.sendTo(
              group,
              { path, type, input, extra: { budgetMs, trace: carrier, headers, scope } },
              batchHeaders,
              sink,
              cancellation,
            ),
          ctx?.deadlineAt,
          started,
        );
    return untilAborted(outcome, signal).then(
      (data) => {
        finish('OK');
        return data;
      },
      (error: unknown) => {
        const clientError =
          error instanceof CallRejectedError
            ? policyClientError(error.reason, error.message, target, error.cause)
            : error instanceof TRPCClientError
              ? error
              : TRPCClientError.from(error as Error);
        finish((clientError.data as { code?: string } | undefined)?.code ?? 'UNKNOWN');
        throw clientError;
      },
    );
  };

  const keyed = (call: OutboundCall<AttemptContext>) => call.type === 'mutation' && contract[call.path]?.idempotent === true;

  /**
   * The headers of one HTTP request: the caller's credential (and the `headers` option's answer,
   * its first call's), and what belongs to each call (request id, remaining budget, trace,
   * idempotency key) in x-switchyard-calls, one entry per call, also for a call alone.
   */
  const batchHeaders: BatchHeaders<AttemptContext> = (calls) => {
    const first = calls[0]!.extra;
    const headers: Record<string, string> = first.headers ? { ...first.headers } : {};
    if (credential) headers[SERVICE_CREDENTIAL_HEADER] = credential;
    const budget = sharedBudget(calls);
    if (budget > 0) headers[DEADLINE_HEADER] = String(Math.min(budget, MAX_DEADLINE_MS));
    const value = encodeCalls(
      calls.map((call) => {
        const { scope, budgetMs, trace: t } = call.extra;
        return {
          requestId: scope.ctx?.requestId,
          // A budget the calls share goes once, as x-deadline-ms: an entry without one means it.
          budgetMs: budget > 0 ? undefined : budgetMs,
          trace: t === NO_TRACE ? undefined : t,
          idempotencyKey: keyed(call) ? scope.idempotencyKey() : undefined,
        };
      }),
    );
    if (value !== undefined) headers[CALLS_HEADER] = value;
    return headers;
  };

  /**
   * The budget every call of a batch of at least {@link SHARED_BUDGET_CALLS} has, when they have
   * the same (calls bound by one timeout, or made in one turn for one request), else 0: sent once,
   * as `x-deadline-ms`, which keeps a batch's header short.
   */
  const sharedBudget = (calls: ReadonlyArray<OutboundCall<AttemptContext>>): number => {
    if (calls.length < SHARED_BUDGET_CALLS) return 0;
    const budget = calls[0]!.extra.budgetMs;
    for (let i = 1; i < calls.length; i++) if (calls[i]!.extra.budgetMs !== budget) return 0;
    return budget;
  };

  /** About what a call adds to x-switchyard-calls, so that a batch's headers stay bounded. */
  const callHeaderBytes = (call: OutboundCall<AttemptContext>) => {
    const { scope, trace: t } = call.extra;
    let bytes = 40 + (scope.ctx?.requestId.length ?? 0) + (keyed(call) ? 140 : 0);
    for (const key in t) bytes += key.length + t[key]!.length + 8;
    return bytes;
  };

  // The `headers` option may be async (e.g. a token getter): resolved per call before it enters
  // the transport, and carried with it. Without the option, calls go straight in.
  const send = options.headers
    ? async (scope: ContextClient, path: string, type: 'query' | 'mutation', input: unknown, signal: AbortSignal | undefined) =>
        guarded(scope, path, type, input, signal, await options.headers!())
    : guarded;

  // A client per context, made by with(ctx) each time it is asked (a Proxy on the context, its
  // procedures made on access): nothing keeps it but its caller, so a request's context dies
  // young with the request. A cache from contexts to clients would keep them alive longer.
  const procedureHandler: ProxyHandler<ContextClient> = {
    get(scope, name) {
      // Only the contract's procedures, each with the one method its type has.
      const def = typeof name === 'string' && Object.hasOwn(contract, name) ? contract[name] : undefined;
      if (!def) return undefined;
      return def.type === 'query'
        ? { query: (input: unknown, opts?: CallOptions) => send(scope, name as string, 'query', input, opts?.signal) }
        : { mutate: (input: unknown, opts?: CallOptions) => send(scope, name as string, 'mutation', input, opts?.signal) };
    },
  };
  const create = (ctx: CallContext | undefined) =>
    new Proxy(new ContextClient(ctx), procedureHandler) as unknown as ServiceCallers<C>;
  const detached = create(undefined);
  return {
    target,
    policies,
    breakerState: () => STATE_NAMES[policies.state] ?? 'closed',
    with: (ctx) => (ctx ? create(ctx) : detached),
  };
}
