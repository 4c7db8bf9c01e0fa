import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import type { TRPCError } from '@trpc/server';
import { getTRPCErrorFromUnknown } from '@trpc/server/unstable-core-do-not-import';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { now, remainingMs } from '../policies/deadline.js';
import { traceFields, tracer, tracingWanted } from '../tracing/tracing.js';
import { flatString, jsonString, msText, writeInfoLine } from '../logging/lines.js';
import type { Logger } from 'pino';
import { classify } from './format-error.js';
import { CALL_ORIGINS, WHEN_GONE, type CallOrigins, type RequestContext, type WhenGone } from './context.js';
import type { CallOrigin } from '../server/batch-calls.js';
import { t } from './mesh.js';

/** Errors already measured and logged by {@link observeCall}, so the HTTP layer skips them. */
export const observedErrors = new WeakSet<TRPCError>();

/** A call's outcome, as tRPC middlewares pass it on. */
export type CallResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

/** A call's outcome after {@link observed}; `thrown` when `run` threw instead of returning it. */
export type ObservedResult = CallResult & { thrown?: true };

const thrownResult = (error: unknown): ObservedResult => ({ ok: false, error: getTRPCErrorFromUnknown(error), thrown: true });

/**
 * What {@link observed} gives the rest of the call: its own logger, trace, deadline and signal,
 * and its request id and idempotency key (its own in a batch of calls made for several requests).
 */
export type CallScope = Pick<RequestContext, 'log' | 'otel' | 'deadlineAt' | 'signal' | 'requestId' | 'idempotencyKey'>;

/** Where call `batchIndex` of the request comes from: its entry of x-switchyard-calls, else the request. */
function originOf(ctx: RequestContext, batchIndex: number): CallOrigin {
  const origins = (ctx as { [CALL_ORIGINS]?: CallOrigins })[CALL_ORIGINS];
  return origins?.[batchIndex] ?? ctx;
}

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
  batchIndex: number,
  run: (scope: CallScope) => CallResult | Promise<CallResult>,
): ObservedResult | Promise<ObservedResult> {
  const started = now();
  const origin = originOf(ctx, batchIndex);
  const deadlineAt = Math.min(origin.deadlineAt, timeoutMs === undefined ? Infinity : started + timeoutMs);
  const done = ctx.mesh.metrics.trackInFlight(path);
  const traced = tracingWanted(origin.otel);
  const span = traced
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
  const left = remainingMs(deadlineAt, started);
  const scope = new LazyScope(ctx, origin, otel, deadlineAt, ids);
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
    scope.dispose();
    done();
    const durationMs = now() - started;
    const code = result.ok ? 'OK' : result.error.code;
    ctx.mesh.metrics.recordCall({ procedure: path, type, code, durationSeconds: durationMs / 1000 });
    const micros = Math.round(durationMs * 1000);
    if (result.ok) {
      span?.end();
      accessLine(ctx, origin.requestId, ids, path, type, micros, scope.madeLog);
      return result;
    }
    const rounded = micros / 1000;
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
 * What repeats from call to call is made once: each procedure's fields up to the duration, and
 * the last request id's binding (a batch's calls share it).
 */
function accessLine(
  ctx: RequestContext,
  requestId: string,
  ids: { traceId: string; spanId: string } | undefined,
  procedure: string,
  type: string,
  micros: number,
  log: Logger | undefined,
): void {
  const fields = `${okFields(procedure, type)}${msText(micros)}`;
  const fallback = () => ({ procedure, type, outcome: 'OK', durationMs: micros / 1000 });
  if (log) {
    writeInfoLine(log, '', fields, 'call', fallback, ctx);
    return;
  }
  let bindings: string;
  if (ids) {
    bindings = `,"requestId":${jsonString(requestId)},"traceId":"${ids.traceId}","spanId":"${ids.spanId}"`;
  } else {
    if (requestId !== lastRequestId) {
      lastRequestId = requestId;
      lastRequestBinding = `,"requestId":${jsonString(requestId)}`;
    }
    bindings = lastRequestBinding;
  }
  writeInfoLine(ctx.mesh.logger, bindings, fields, 'call', () => ({ requestId, ...ids, ...fallback() }), ctx);
}

let lastRequestId: string | undefined;
let lastRequestBinding = '';

/** `,"procedure":…,"type":…,"outcome":"OK","durationMs":` of each procedure (a service has a bounded number). */
const OK_FIELDS = new Map<string, { type: string; text: string }>();
function okFields(procedure: string, type: string): string {
  const known = OK_FIELDS.get(procedure);
  if (known !== undefined && known.type === type) return known.text;
  const text = flatString(`,"procedure":${jsonString(procedure)},"type":"${type}","outcome":"OK","durationMs":`);
  if (OK_FIELDS.size < 1000) OK_FIELDS.set(procedure, { type, text });
  return text;
}

/**
 * A call's scope. Its logger and signal are made on first use (a handler answering at once needs
 * neither). The signal fires at the call's deadline or when the request goes away: one controller
 * and one timer per call (AbortSignal.any and AbortSignal.timeout cost several times more in
 * Node 20). A class, not an object literal with getters: V8 makes those slowly, per call.
 */
class LazyScope implements CallScope {
  madeLog: Logger | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopGone: (() => void) | undefined;

  readonly requestId: string;
  readonly idempotencyKey: string | undefined;

  constructor(
    private readonly request: RequestContext,
    private readonly origin: CallOrigin,
    readonly otel: CallScope['otel'],
    readonly deadlineAt: number,
    private readonly ids: { traceId: string; spanId: string } | undefined,
  ) {
    this.requestId = origin.requestId;
    this.idempotencyKey = origin.idempotencyKey;
  }

  get log(): Logger {
    if (this.madeLog) return this.madeLog;
    // A call of a batch made for several requests logs with its own request id.
    const base = this.origin === this.request ? this.request.log : this.request.mesh.logger.child({ requestId: this.requestId });
    return (this.madeLog = this.ids ? base.child(this.ids) : base);
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    this.timer = setTimeout(
      () => controller.abort(new DOMException('The call did not finish within its deadline', 'TimeoutError')),
      this.delayMs(),
    );
    this.stopGone = this.whenRequestGone(() => controller.abort());
    return controller.signal;
  }

  /**
   * Calls `onAbort` once, at the call's deadline or when the caller goes away, without making the
   * signal (an AbortController and EventTarget listeners cost more than a timer and a callback);
   * through the signal when the handler already made it. Returns what stops it.
   */
  watch(onAbort: (reason: 'deadline' | 'gone') => void): () => void {
    if (this.controller) return watchSignal(this.controller.signal, onAbort);
    const timer = setTimeout(() => onAbort('deadline'), this.delayMs());
    const stopGone = this.whenRequestGone(() => onAbort('gone'));
    return () => {
      clearTimeout(timer);
      stopGone();
    };
  }

  /** The call is over: its timer and its hook on the request go. */
  dispose(): void {
    if (!this.controller) return;
    clearTimeout(this.timer);
    this.stopGone?.();
  }

  private delayMs(): number {
    return Math.max(1, Math.ceil(remainingMs(this.deadlineAt)));
  }

  /** The request's caller-gone hook (WHEN_GONE); a context made elsewhere has only its signal. */
  private whenRequestGone(callback: () => void): () => void {
    const hook = (this.request as { [WHEN_GONE]?: WhenGone })[WHEN_GONE];
    return hook ? hook(callback) : watchSignal(this.request.signal, callback);
  }
}

/**
 * The context a call's steps see: the request's, with the call's scope. Its logger and signal
 * stay lazy (read through the scope); every other field is the request's.
 */
class ScopedContext implements RequestContext {
  readonly requestId: string;
  readonly deadlineAt: number;
  readonly otel: RequestContext['otel'];
  readonly caller: RequestContext['caller'];
  readonly user: RequestContext['user'];
  readonly clientIp: string;
  readonly idempotencyKey: string | undefined;
  readonly header: RequestContext['header'];
  readonly setHeader: RequestContext['setHeader'];
  readonly mesh: RequestContext['mesh'];

  constructor(
    ctx: RequestContext,
    private readonly scope: CallScope,
  ) {
    this.requestId = scope.requestId;
    this.deadlineAt = scope.deadlineAt;
    this.otel = scope.otel;
    this.caller = ctx.caller;
    this.user = ctx.user;
    this.clientIp = ctx.clientIp;
    this.idempotencyKey = scope.idempotencyKey;
    this.header = ctx.header;
    this.setHeader = ctx.setHeader;
    this.mesh = ctx.mesh;
  }

  get log(): Logger {
    return this.scope.log;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  /** See {@link LazyScope.watch}. */
  watchAbort(onAbort: (reason: 'deadline' | 'gone') => void): () => void {
    return this.scope instanceof LazyScope ? this.scope.watch(onAbort) : watchSignal(this.scope.signal, onAbort);
  }
}

/** Watches a signal as {@link LazyScope.watch} does. */
function watchSignal(signal: AbortSignal, onAbort: (reason: 'deadline' | 'gone') => void): () => void {
  const listener = () => onAbort((signal.reason as { name?: string } | undefined)?.name === 'TimeoutError' ? 'deadline' : 'gone');
  if (signal.aborted) {
    listener();
    return () => undefined;
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/**
 * Calls `onAbort` once at the call's deadline or when the caller goes away (the moments its
 * signal fires), without making the signal when the runtime can avoid it; returns what stops it.
 */
export function watchAbort(ctx: RequestContext, onAbort: (reason: 'deadline' | 'gone') => void): () => void {
  return ctx instanceof ScopedContext ? ctx.watchAbort(onAbort) : watchSignal(ctx.signal, onAbort);
}

/** The context a call's steps see (see {@link ScopedContext}). */
export function callContext(ctx: RequestContext, scope: CallScope): RequestContext {
  return new ScopedContext(ctx, scope);
}

/** The tRPC middleware on every mesh procedure (see {@link observed}). */
export const observeCall = t.middleware(async ({ path, type, ctx, meta, batchIndex, next }) => {
  // tRPC merges this into the context with a spread: plain values, read now.
  const result = await observed(
    ctx,
    path,
    type,
    meta?.timeoutMs,
    batchIndex,
    (scope) =>
      next({
        ctx: {
          log: scope.log,
          signal: scope.signal,
          deadlineAt: scope.deadlineAt,
          otel: scope.otel,
          requestId: scope.requestId,
          idempotencyKey: scope.idempotencyKey,
        },
      }) as Promise<CallResult>,
  );
  if (!result.ok && result.thrown) throw result.error;
  return result as Awaited<ReturnType<typeof next>>;
});
