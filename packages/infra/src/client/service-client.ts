import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import {
  TRPCClientError,
  createTRPCClient,
  httpBatchLink,
  type OperationResultEnvelope,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import superjson from 'superjson';
import type { Contract, RouterOf } from '@switchyard/api-contracts';
import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_KEY_HEADER } from '../idempotency/idempotency-store.js';
import { SERVICE_CREDENTIAL_HEADER, serviceCredential } from '../identity/service-identity.js';
import { DEADLINE_HEADER, now } from '../policies/deadline.js';
import { CallRejectedError, TargetPolicies, type CallPolicyOptions } from '../policies/target-policies.js';
import { REQUEST_ID_HEADER } from '../server/request-id.js';
import { injectTraceContext, tracer } from '../tracing/tracing.js';
import type { RequestContext } from '../trpc/context.js';
import { classifyAttemptError, policyClientError } from './call-errors.js';
import { clientMetrics } from './client-metrics.js';
import { observe, type HistogramSeries, type ValueSeries } from '../metrics/lean.js';

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
  policies?: CallPolicyOptions;
  /** Where the client metrics go (the service's registry). @default a private registry */
  registry?: Registry;
  logger?: Logger;
}

/** A typed client of one service, guarded by the policies. */
export interface ServiceClient<C extends Contract> {
  readonly target: string;
  readonly policies: TargetPolicies;
  /** The breaker's state by name, for status views: `closed`, `open`, `half-open` or `isolated`. */
  breakerState(): BreakerStateName;
  /**
   * The tRPC client for calls made while serving `ctx`: they carry its request id, remaining
   * deadline and trace, and calls made in the same tick share one HTTP batch. Without `ctx`, calls
   * start a new request.
   * @example await auth.with(ctx).getUser.query({ id })
   */
  with(ctx?: CallContext): TRPCClient<RouterOf<C>>;
}

const MESH = Symbol.for('switchyard.call');

export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';
const STATE_NAMES: readonly BreakerStateName[] = ['closed', 'open', 'half-open', 'isolated'];

interface AttemptContext {
  budgetMs: number;
  trace: Record<string, string>;
}

/**
 * A typed client of a service, from its contract alone: superjson, HTTP batching (`maxItems` =
 * the target's batch limit), keep-alive connections (Node's fetch), and per call a deadline, retries
 * of idempotent calls within a budget, a circuit breaker and a bulkhead per target, service identity,
 * request id and W3C trace propagation, and metrics.
 */
export function createServiceClient<C extends Contract>(options: CreateServiceClientOptions<C>): ServiceClient<C> {
  const { target, contract } = options;
  const policies = new TargetPolicies(options.policies ?? {}, classifyAttemptError);
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

  // The series of each procedure, found once (lean metrics: updated as plain fields).
  const series = new Map<string, { ok: ValueSeries; duration: HistogramSeries }>();
  const seriesOf = (procedure: string) => {
    let entry = series.get(procedure);
    if (!entry) {
      entry = { ok: metrics.requests.series(target, procedure, 'OK'), duration: metrics.duration.series(target, procedure) };
      series.set(procedure, entry);
    }
    return entry;
  };

  const policyLink =
    (ctx: CallContext | undefined): TRPCLink<AnyTRPCRouter> =>
    () =>
    ({ op, next }) =>
      observable((observer) => {
        const def = contract[op.path];
        const procedure = def ? op.path : '__unknown__';
        const started = now();
        const parent = ctx?.otel ?? otelContext.active();
        const span = tracer.startSpan(
          `${target}/${op.path}`,
          { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'trpc', 'rpc.service': target, 'rpc.method': op.path } },
          parent,
        );
        const carrier: Record<string, string> = {};
        injectTraceContext(trace.setSpan(parent, span), carrier);
        const call = {
          procedure,
          idempotent: def?.type === 'query' || def?.idempotent === true,
          timeoutMs: def?.timeoutMs ?? policies.defaultTimeoutMs,
          deadlineAt: ctx?.deadlineAt,
        };
        let finished = false;
        const finish = (code: string) => {
          finished = true;
          const series = seriesOf(procedure);
          (code === 'OK' ? series.ok : metrics.requests.series(target, procedure, code)).value += 1;
          observe(series.duration, (now() - started) / 1000);
          if (code !== 'OK') span.setStatus({ code: SpanStatusCode.ERROR, message: code });
          span.end();
        };
        policies
          .execute(
            call,
            (cancellation, budgetMs) =>
              new Promise<OperationResultEnvelope<unknown, TRPCClientError<AnyTRPCRouter>>>((resolve, reject) => {
                const attemptContext: AttemptContext = { budgetMs, trace: carrier };
                const subscription = next({ ...op, context: { ...op.context, [MESH]: attemptContext } }).subscribe({
                  next: resolve,
                  error: reject,
                });
                // Unsubscribing makes httpBatchLink abort the request once no call in it waits.
                cancellation.onCancel((reason) => {
                  subscription.unsubscribe();
                  reject(reason);
                });
              }),
          )
          .then(
            (result) => {
              finish('OK');
              observer.next(result);
              observer.complete();
            },
            (error: unknown) => {
              const clientError =
                error instanceof CallRejectedError
                  ? policyClientError(error.reason, error.message, target, error.cause)
                  : TRPCClientError.from(error as Error);
              finish((clientError.data as { code?: string } | undefined)?.code ?? 'UNKNOWN');
              observer.error(clientError as TRPCClientError<AnyTRPCRouter>);
            },
          );
        return () => {
          if (!finished) span.addEvent('unsubscribed');
        };
      });

  const create = (ctx: CallContext | undefined) => {
    // One key per request context: a retried idempotent mutation carries the same key, so a server
    // with idempotency keys runs it once. Calls without a context get none.
    const idempotencyKey = ctx ? `${ctx.requestId.slice(0, 60)}.${randomUUID()}` : undefined;
    return createTRPCClient<RouterOf<C>>({
      links: [
        policyLink(ctx),
        httpBatchLink({
          url: `${options.url.replace(/\/$/, '')}/trpc`,
          transformer: superjson,
          maxItems: options.maxBatchSize ?? 20,
          headers: async ({ opList }) => {
            const extra = options.headers ? await options.headers() : undefined;
            const attempts = opList.map((op) => (op.context as Record<symbol, AttemptContext | undefined>)[MESH]);
            // One header per batch: the longest budget among its calls; each call still enforces its own.
            const budgetMs = Math.max(...attempts.map((a) => a?.budgetMs ?? 0));
            return {
              ...extra,
              ...(attempts[0]?.trace ?? {}),
              ...(budgetMs > 0 ? { [DEADLINE_HEADER]: String(budgetMs) } : {}),
              ...(ctx ? { [REQUEST_ID_HEADER]: ctx.requestId } : {}),
              ...(credential ? { [SERVICE_CREDENTIAL_HEADER]: credential } : {}),
              ...(idempotencyKey && opList.some((op) => op.type === 'mutation' && contract[op.path]?.idempotent === true)
                ? { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey }
                : {}),
            };
          },
        }),
      ],
    });
  };

  const perContext = new WeakMap<CallContext, TRPCClient<RouterOf<C>>>();
  const detached = create(undefined);
  return {
    target,
    policies,
    breakerState: () => STATE_NAMES[policies.state] ?? 'closed',
    with(ctx) {
      if (!ctx) return detached;
      let client = perContext.get(ctx);
      if (!client) {
        client = create(ctx);
        perContext.set(ctx, client);
      }
      return client;
    },
  };
}
