import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import type { TRPCError } from '@trpc/server';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { now, remainingMs } from '../policies/deadline.js';
import { traceFields, tracer, tracingWanted } from '../tracing/tracing.js';
import { classify } from './format-error.js';
import type { RequestContext } from './context.js';
import { t } from './mesh.js';

/** Errors already measured and logged by {@link observeCall}, so the HTTP layer skips them. */
export const observedErrors = new WeakSet<TRPCError>();

/** A call's outcome, as tRPC middlewares pass it on. */
export type CallResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

/** What {@link observed} gives the rest of the call: its own logger, trace, deadline and signal. */
export type CallScope = Pick<RequestContext, 'log' | 'otel' | 'deadlineAt' | 'signal'>;

/**
 * Around every mesh procedure call: its own context (server span, logger with trace ids, deadline
 * from the request and the contract's timeout, a signal that fires at the deadline), then RED
 * metrics and one access log line. Used by the tRPC middleware below and by the fast HTTP path's
 * direct calls, so both measure and log alike.
 */
export async function observed(
  ctx: RequestContext,
  path: string,
  type: string,
  timeoutMs: number | undefined,
  run: (scope: CallScope) => Promise<CallResult>,
): Promise<CallResult & { thrown?: true }> {
  const started = now();
  const deadlineAt = Math.min(ctx.deadlineAt, timeoutMs === undefined ? Infinity : started + timeoutMs);
  const done = ctx.mesh.metrics.trackInFlight(path);
  const traced = tracingWanted(ctx.otel);
  const span = traced
    ? tracer.startSpan(
        `${ctx.mesh.service}/${path}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'rpc.system': 'trpc',
            'rpc.service': ctx.mesh.service,
            'rpc.method': path,
            'switchyard.request_id': ctx.requestId,
          },
        },
        ctx.otel,
      )
    : undefined;
  const otel = span ? trace.setSpan(ctx.otel, span) : ctx.otel;
  const ids = span ? traceFields(span) : undefined;
  const log = ids ? ctx.log.child(ids) : ctx.log;
  const left = remainingMs(deadlineAt, started);
  // The call's signal fires at its deadline or when the request goes away. One controller and one
  // timer per call: AbortSignal.any and AbortSignal.timeout cost several times more in Node 20.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('The call did not finish within its deadline', 'TimeoutError')),
    Math.max(1, Math.ceil(left)),
  );
  const onRequestGone = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onRequestGone();
  else ctx.signal.addEventListener('abort', onRequestGone, { once: true });
  const invoke = async () => {
    if (left < 1) {
      // The budget was spent upstream: answer at once, run nothing.
      throw new SwitchyardError('DEADLINE_EXCEEDED', 'The deadline passed before the call started');
    }
    return run({ log, otel, deadlineAt, signal: controller.signal as RequestContext['signal'] });
  };
  const result: CallResult & { thrown?: true } = await (span ? otelContext.with(otel, invoke) : invoke()).catch(
    (error: unknown) => ({ ok: false as const, error: error as TRPCError, thrown: true as const }),
  );
  clearTimeout(timer);
  ctx.signal.removeEventListener('abort', onRequestGone);
  done();
  const durationMs = now() - started;
  const code = result.ok ? 'OK' : result.error.code;
  ctx.mesh.metrics.recordCall({ procedure: path, type, code, durationSeconds: durationMs / 1000 });
  const line = { procedure: path, type, outcome: code, durationMs: Math.round(durationMs * 1000) / 1000 };
  if (result.ok) {
    span?.end();
    log.info(line, 'call');
    return result;
  }
  span?.setStatus({ code: SpanStatusCode.ERROR, message: result.error.code });
  span?.end();
  observedErrors.add(result.error);
  if (result.error.code === 'INTERNAL_SERVER_ERROR') {
    log.error({ ...line, err: result.error.cause ?? result.error }, 'call failed');
  } else {
    const { appCode, issues } = classify(result.error);
    const detail = issues ? { fields: issues.map((i) => i.path) } : { error: result.error.message };
    log.info({ ...line, appCode, ...detail }, 'call');
  }
  return result;
}

/** The tRPC middleware on every mesh procedure (see {@link observed}). */
export const observeCall = t.middleware(async ({ path, type, ctx, meta, next }) => {
  const result = await observed(ctx, path, type, meta?.timeoutMs, (scope) => next({ ctx: scope }) as Promise<CallResult>);
  if (!result.ok && result.thrown) throw result.error;
  return result as Awaited<ReturnType<typeof next>>;
});
