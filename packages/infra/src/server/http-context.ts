import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  CALL_ORIGINS,
  WHEN_GONE,
  type CallOrigins,
  type EndUser,
  type MeshRuntime,
  type RequestContext,
  type WhenGone,
} from '../trpc/context.js';

/**
 * The caller-gone hook of a request (see WHEN_GONE): one 'close' listener on the response for all
 * of the request's calls, made when the first asks.
 */
function whenGone(res: ServerResponse): WhenGone {
  let callbacks: Set<() => void> | undefined;
  return (callback) => {
    if (res.closed) {
      if (!res.writableFinished) callback();
      return () => undefined;
    }
    if (!callbacks) {
      const all = (callbacks = new Set());
      res.once('close', () => {
        if (!res.writableFinished) for (const f of all) f();
      });
    }
    callbacks.add(callback);
    return () => callbacks!.delete(callback);
  };
}

/**
 * What a request's context is made of (see {@link HttpRequestContext}): its own fields, and each
 * call's origin in a batch from x-switchyard-calls.
 */
export type HttpContextFields = Pick<
  RequestContext,
  'requestId' | 'deadlineAt' | 'otel' | 'caller' | 'clientIp' | 'idempotencyKey'
> & {
  readonly origins: CallOrigins | undefined;
};

/**
 * A request's context (see RequestContext). Its logger and signal are made on first use: a call
 * that needs neither (no handler log line, a handler answering at once) costs no child logger and
 * no AbortController.
 */
export class HttpRequestContext implements RequestContext {
  user: EndUser | undefined = undefined;
  readonly requestId: string;
  readonly deadlineAt: number;
  readonly otel: RequestContext['otel'];
  readonly caller: RequestContext['caller'];
  readonly clientIp: string;
  readonly idempotencyKey: string | undefined;
  readonly header: (name: string) => string | undefined;
  readonly setHeader: (name: string, value: string) => void;
  /** Every call of the request, and its signal, learn that the caller went away from this one hook. */
  readonly [WHEN_GONE]: WhenGone;
  readonly [CALL_ORIGINS]: CallOrigins | undefined;
  private madeLog: Logger | undefined = undefined;
  private madeSignal: AbortSignal | undefined = undefined;

  constructor(
    fields: HttpContextFields,
    readonly mesh: MeshRuntime,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    this.requestId = fields.requestId;
    this.deadlineAt = fields.deadlineAt;
    this.otel = fields.otel;
    this.caller = fields.caller;
    this.clientIp = fields.clientIp;
    this.idempotencyKey = fields.idempotencyKey;
    this[WHEN_GONE] = whenGone(res);
    this[CALL_ORIGINS] = fields.origins;
    this.header = (header) => {
      const value = req.headers[header.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    this.setHeader = (header, value) => {
      if (res.headersSent) return;
      if (header.toLowerCase() !== 'set-cookie') res.setHeader(header, value);
      else res.appendHeader('set-cookie', value);
    };
  }

  get log(): Logger {
    return (this.madeLog ??= this.mesh.logger.child({ requestId: this.requestId }));
  }

  /** Aborted when the caller goes away. */
  get signal(): AbortSignal {
    if (this.madeSignal) return this.madeSignal;
    const controller = new AbortController();
    this[WHEN_GONE](() => controller.abort());
    return (this.madeSignal = controller.signal);
  }
}
