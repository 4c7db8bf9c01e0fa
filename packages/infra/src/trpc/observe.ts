import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import type { TRPCError } from '@trpc/server';
import { getTRPCErrorFromUnknown } from '@trpc/server/unstable-core-do-not-import';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { now, remainingMs } from '../policies/deadline.js';
import { traceFields, tracer, tracingWanted } from '../tracing/tracing.js';
import { writeInfoLine } from '../logging/lines.js';
import type { Logger } from 'pino';
import { classify } from './format-error.js';
import type { RequestContext } from './context.js';
import { t } from './mesh.js';

/** Errors already measured and logged by {@link observeCall}, so the HTTP layer skips them. */
export const observedErrors = new WeakSet<TRPCError>();

/** A call's outcome, as tRPC middlewares pass it on. */
export type CallResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

/** A call's outcome after {@link observed}; `thrown` when `run` threw instead of returning it. */
export type ObservedResult = CallResult & { thrown?: true };

const thrownResult = (error: unknown): ObservedResult => ({ ok: false, error: getTRPCErrorFromUnknown(error), thrown: true });

/** What {@link observed} gives the rest of the call: its own logger, trace, deadline and signal. */
export type CallScope = Pick<RequestContext, 'log' | 'otel' | 'deadlineAt' | 'signal'>;

/**
 * Around every mesh procedure call: its own context (server span, logger with trace ids, deadline
 * from the request and the contract's timeout, a signal that fires at the deadline), then RED
 * metrics and one access log line. Used by the tRPC middleware below and by the fast HTTP path's
 * direct calls, so both measure and log alike.
 */
export function observed(
  ctx: RequestContext,
  path: string,
  type: string,
  timeoutMs: number | undefined,
  run: (scope: CallScope) => CallResult | Promise<CallResult>,
): ObservedResult | Promise<ObservedResult> {
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
  const left = remainingMs(deadlineAt, started);
  // The call's logger and signal are made on first use (a handler answering at once needs
  // neither). The signal fires at the call's deadline or when the request goes away: one
  // controller and one timer per call (AbortSignal.any and AbortSignal.timeout cost several
  // times more in Node 20).
  let log: Logger | undefined;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onRequestGone = () => controller!.abort(ctx.signal.reason);
  const scope: CallScope = {
    otel,
    deadlineAt,
    get log() {
      return (log ??= ids ? ctx.log.child(ids) : ctx.log);
    },
    get signal() {
      if (controller) return controller.signal;
      controller = new AbortController();
      const signal = controller.signal;
      timer = setTimeout(
        () => controller!.abort(new DOMException('The call did not finish within its deadline', 'TimeoutError')),
        Math.max(1, Math.ceil(remainingMs(deadlineAt))),
      );
      if (ctx.signal.aborted) onRequestGone();
      else ctx.signal.addEventListener('abort', onRequestGone, { once: true });
      return signal;
    },
  };
  // A run that finishes synchronously is observed synchronously: no promise, no microtask.
  let outcome: ObservedResult | Promise<ObservedResult>;
  try {
    if (left < 1) {
      // The budget was spent upstream: answer at once, run nothing.
      throw new SwitchyardError('DEADLINE_EXCEEDED', 'The deadline passed before the call started');
    }
    outcome = span ? otelContext.with(otel, run, undefined, scope) : run(scope);
  } catch (error) {
    outcome = thrownResult(error);
  }
  if (outcome instanceof Promise) return outcome.then(finish, (error: unknown) => finish(thrownResult(error)));
  return finish(outcome);

  function finish(result: ObservedResult): ObservedResult {
    if (controller) {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onRequestGone);
    }
    done();
    const durationMs = now() - started;
    const code = result.ok ? 'OK' : result.error.code;
    ctx.mesh.metrics.recordCall({ procedure: path, type, code, durationSeconds: durationMs / 1000 });
    const rounded = Math.round(durationMs * 1000) / 1000;
    if (result.ok) {
      span?.end();
      accessLine(ctx, ids, path, type, code, rounded, log);
      return result;
    }
    span?.setStatus({ code: SpanStatusCode.ERROR, message: result.error.code });
    span?.end();
    observedErrors.add(result.error);
    const line = { procedure: path, type, outcome: code, durationMs: rounded };
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

/**
 * The access line of a successful call (`call`, with procedure, type, outcome and duration). Its
 * fields hold no secret, so it is written without pino's redaction walk (see writeInfoLine),
 * from the service's logger with the request's bindings, unless the call made its own logger.
 */
function accessLine(
  ctx: RequestContext,
  ids: { traceId: string; spanId: string } | undefined,
  procedure: string,
  type: string,
  outcome: string,
  durationMs: number,
  log: Logger | undefined,
): void {
  const fields = `,"procedure":${JSON.stringify(procedure)},"type":"${type}","outcome":"${outcome}","durationMs":${durationMs}`;
  const fallback = () => ({ procedure, type, outcome, durationMs });
  if (log) {
    writeInfoLine(log, '', fields, 'call', fallback);
    return;
  }
  const bindings = ids
    ? `,"requestId":${JSON.stringify(ctx.requestId)},"traceId":"${ids.traceId}","spanId":"${ids.spanId}"`
    : `,"requestId":${JSON.stringify(ctx.requestId)}`;
  writeInfoLine(ctx.mesh.logger, bindings, fields, 'call', () => ({ requestId: ctx.requestId, ...ids, ...fallback() }));
}

/**
 * The context a call's steps see: the request's, with the call's scope. Built field by field, not
 * by spreading, so the scope's lazy logger and signal stay lazy (a spread would make both).
 */
export function callContext(ctx: RequestContext, scope: CallScope): RequestContext {
  return {
    requestId: ctx.requestId,
    get log() {
      return scope.log;
    },
    get signal() {
      return scope.signal;
    },
    deadlineAt: scope.deadlineAt,
    otel: scope.otel,
    caller: ctx.caller,
    user: ctx.user,
    clientIp: ctx.clientIp,
    idempotencyKey: ctx.idempotencyKey,
    header: ctx.header,
    setHeader: ctx.setHeader,
    mesh: ctx.mesh,
  };
}

/** The tRPC middleware on every mesh procedure (see {@link observed}). */
export const observeCall = t.middleware(async ({ path, type, ctx, meta, next }) => {
  const result = await observed(ctx, path, type, meta?.timeoutMs, (scope) => next({ ctx: scope }) as Promise<CallResult>);
  if (!result.ok && result.thrown) throw result.error;
  return result as Awaited<ReturnType<typeof next>>;
});
