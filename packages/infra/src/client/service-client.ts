import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import { TRPCClientError } from '@trpc/client';
import { Registry } from 'prom-client';
import type { Contract } from '@switchyard/api-contracts';
import { serviceCredential } from '../identity/service-identity.js';
import { now } from '../policies/deadline.js';
import type { CallInfo, CallSink, Cancellable } from '../policies/call-attempt.js';
import { CallRejectedError } from '../policies/call-outcome.js';
import { TargetPolicies } from '../policies/target-policies.js';
import { injectTraceContext, tracer, tracingWanted } from '../tracing/tracing.js';
import { callHeaders, NO_TRACE } from './call-headers.js';
import { classifyAttemptError, policyClientError } from './call-errors.js';
import { clientMetrics } from './client-metrics.js';
import { ContextClient, type AttemptContext } from './context-client.js';
import {
  STATE_NAMES,
  type CallContext,
  type CallOptions,
  type CreateServiceClientOptions,
  type ServiceCallers,
  type ServiceClient,
} from './service-client-types.js';
import { Endpoints } from './endpoints.js';
import { HttpTransport } from './transport.js';
import { untilAborted } from './until-aborted.js';
import type { CountSeries, ObserveSeries } from '../metrics/per-call-metric.js';

/** A procedure's metric series, and what the policies know of its queries and mutations. */
interface ProcedureEntry {
  readonly ok: CountSeries;
  readonly duration: ObserveSeries;
  readonly query: CallInfo;
  readonly mutation: CallInfo;
}

/**
 * A typed client of a service, from its contract alone: superjson, HTTP batching (`maxItems` =
 * the target's batch limit), keep-alive connections (node:http, see transport.ts), and per call
 * a deadline, retries of idempotent calls within a budget, a circuit breaker and a bulkhead per
 * target, service identity, request id and W3C trace propagation, and metrics. A target of
 * several instances gets a transport each, its attempts taken in turn (see endpoints.ts).
 */
export function createServiceClient<C extends Contract>(options: CreateServiceClientOptions<C>): ServiceClient<C> {
  const { target, contract } = options;
  const bare = options.policies === false;
  const policyOptions =
    options.policies === false ? { breaker: false as const, bulkhead: false as const } : (options.policies ?? {});
  const metrics = clientMetrics(options.registry ?? new Registry());
  const credential = options.caller ? serviceCredential(options.caller.service, options.caller.key) : undefined;
  const log = options.logger?.child({ target });
  const { batchHeaders, callHeaderBytes } = callHeaders(contract, credential);
  const maxBatchSize = options.maxBatchSize ?? 20;
  const endpoints = new Endpoints(
    options.url,
    (url) => new HttpTransport<AttemptContext>({ url, maxBatchSize, headerBytes: callHeaderBytes }),
  );
  const only = endpoints.only;
  const policies = new TargetPolicies(policyOptions, only ? classifyAttemptError : endpoints.classify);

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
      (code === 'OK' ? entry.ok : metrics.requests.series(target, procedure, code)).inc();
      entry.duration.observe((now() - started) / 1000);
      if (code !== 'OK') span?.setStatus({ code: SpanStatusCode.ERROR, message: code });
      span?.end();
    };
    // The endpoint of the call's last attempt, so that a retry goes to another one.
    let endpoint = -1;
    const attempt = (cancellation: Cancellable | undefined, sink: CallSink, budgetMs: number) => {
      const call = { path, type, input, extra: { budgetMs, trace: carrier, headers, scope } };
      if (only) return only.sendTo(group, call, batchHeaders, sink, cancellation);
      const at = (endpoint = endpoints.next(endpoint));
      endpoints.list[at]!.sendTo(group, call, batchHeaders, endpoints.watch(at, sink), cancellation);
    };
    const outcome = bare
      ? new Promise((resolve, reject) => attempt(undefined, { resolve, reject }, 0))
      : policies.execute(entry[type], attempt, ctx?.deadlineAt, started);
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
