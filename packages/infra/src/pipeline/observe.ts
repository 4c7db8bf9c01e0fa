import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import { getTRPCErrorFromUnknown, type TRPCError } from '@trpc/server';
import { accessLine } from '../engine/access-line.js';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { now, remainingMs } from '../policies/deadline.js';
import type { CallOrigin } from '../server/call-origins.js';
import { traceFields, tracer, tracingWanted } from '../tracing/tracing.js';
import { CALL_ORIGINS, type CallOrigins, type RequestContext } from '../trpc/context.js';
import { classify } from '../trpc/format-error.js';
import { LazyScope, type CallScope } from './scope.js';

/** Errors already measured and logged by {@link observed}, so the HTTP layer skips them. */
export const observedErrors = new WeakSet<TRPCError>();

/** A call's outcome. */
export type CallResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

const failed = (error: unknown): CallResult => ({ ok: false, error: getTRPCErrorFromUnknown(error) });

/** Where call `batchIndex` of the request comes from: its entry of x-switchyard-calls, else the request. */
function originOf(ctx: RequestContext, batchIndex: number): CallOrigin {
  const origins = (ctx as { [CALL_ORIGINS]?: CallOrigins })[CALL_ORIGINS];
  return origins?.[batchIndex] ?? ctx;
}

/** What {@link observed} needs to know of the call. */
export interface ObservedCall {
  readonly path: string;
  readonly type: string;
  /** The contract's own bound on the call, in ms; the request's deadline applies too. */
  readonly timeoutMs: number | undefined;
}

/**
 * The outermost step of every call: its own scope (server span, logger with trace ids, deadline
 * from the request and the contract's timeout, a signal that fires at the deadline), then RED
 * metrics and one access log line. `run` gets the scope; a run that answers at once is observed
 * at once, with no promise.
 */
export function observed(
  ctx: RequestContext,
  call: ObservedCall,
  batchIndex: number,
  run: (scope: CallScope) => unknown,
): CallResult | Promise<CallResult> {
  const { path, type, timeoutMs } = call;
  const started = now();
  const origin = originOf(ctx, batchIndex);
  const deadlineAt = Math.min(origin.deadlineAt, timeoutMs === undefined ? Infinity : started + timeoutMs);
  const done = ctx.mesh.metrics.trackInFlight(path);
  const span = tracingWanted(origin.otel)
    ? tracer.startSpan(
        `${ctx.mesh.service}/${path}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'rpc.system': 'trpc',
            'rpc.service': ctx.mesh.service,
            'rpc.method': path,
            'switchyard.request_id': origin.requestId,
          },
        },
        origin.otel,
      )
    : undefined;
  const otel = span ? trace.setSpan(origin.otel, span) : origin.otel;
  const ids = span ? traceFields(span) : undefined;
  const scope = new LazyScope(ctx, origin, otel, deadlineAt, ids);
  let outcome: CallResult | Promise<CallResult>;
  try {
    // The budget was spent upstream: answer at once, run nothing.
    if (remainingMs(deadlineAt, started) < 1) {
      throw new SwitchyardError('DEADLINE_EXCEEDED', 'The deadline passed before the call started');
    }
    const data = span ? otelContext.with(otel, run, undefined, scope) : run(scope);
    outcome = data instanceof Promise ? data.then((value: unknown) => ({ ok: true, data: value }), failed) : { ok: true, data };
  } catch (error) {
    outcome = failed(error);
  }
  return outcome instanceof Promise ? outcome.then(finish) : finish(outcome);

  function finish(result: CallResult): CallResult {
    scope.dispose();
    done();
    const durationMs = now() - started;
    const code = result.ok ? 'OK' : result.error.code;
    ctx.mesh.metrics.recordCall({ procedure: path, type, code, durationSeconds: durationMs / 1000 });
    if (!result.ok) span?.setStatus({ code: SpanStatusCode.ERROR, message: code });
    span?.end();
    if (result.ok) {
      accessLine(ctx, { requestId: origin.requestId, ids, procedure: path, type, durationMs, log: scope.madeLog });
      return result;
    }
    observedErrors.add(result.error);
    const line = { procedure: path, type, outcome: code, durationMs: Math.round(durationMs * 1000) / 1000 };
    if (result.error.code === 'INTERNAL_SERVER_ERROR') {
      scope.log.error({ ...line, err: result.error.cause ?? result.error }, 'call failed');
    } else {
      const { appCode, issues } = classify(result.error);
      const detail = issues ? { fields: issues.map((i) => i.path) } : { error: result.error.message };
      scope.log.info({ ...line, appCode, ...detail }, 'call');
    }
    return result;
  }
}
