import type { Logger } from 'pino';
import { remainingMs } from '../policies/deadline.js';
import type { CallOrigin } from '../server/call-origins.js';
import { WHEN_GONE, type RequestContext, type WhenGone } from '../trpc/context.js';

/**
 * What a call has of its own inside a request: its logger, trace, deadline and signal, and its
 * request id and idempotency key (its own in a batch of calls made for several requests).
 */
export type CallScope = Pick<RequestContext, 'log' | 'otel' | 'deadlineAt' | 'signal' | 'requestId' | 'idempotencyKey'>;

/**
 * A call's scope. Its logger and signal are made on first use: a handler answering at once needs
 * neither. The signal fires at the call's deadline or when the request goes away, from one
 * controller and one timer.
 */
export class LazyScope implements CallScope {
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
   * signal when the handler has not; returns what stops it.
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
 * The context a call's steps and handler see: the request's, with the call's scope. Its logger
 * and signal stay lazy (read through the scope); every other field is the request's.
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
    readonly scope: CallScope,
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
}

/** Calls `onAbort` once when `signal` fires: `deadline` for a timeout, else `gone`. */
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
 * signal fires), without making the signal when it can; returns what stops it.
 */
export function watchAbort(ctx: RequestContext, onAbort: (reason: 'deadline' | 'gone') => void): () => void {
  if (ctx instanceof ScopedContext && ctx.scope instanceof LazyScope) return ctx.scope.watch(onAbort);
  return watchSignal(ctx.signal, onAbort);
}

/** The context a call's steps see (see {@link ScopedContext}). */
export function callContext(ctx: RequestContext, scope: CallScope): RequestContext {
  return new ScopedContext(ctx, scope);
}
