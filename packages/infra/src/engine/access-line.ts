import type { Logger } from 'pino';
import { writeInfoLine } from './line-writer.js';
import type { RequestContext } from '../trpc/context.js';
import { bypassOn } from './switches.js';

const LINE_WRITER = bypassOn('lineWriter');

/** A successful call, as its access line tells it. */
export interface AccessLineCall {
  readonly requestId: string;
  readonly ids: { traceId: string; spanId: string } | undefined;
  readonly procedure: string;
  readonly type: string;
  readonly durationMs: number;
  /** The call's own logger, when it made one (its bindings are the line's). */
  readonly log: Logger | undefined;
}

/**
 * Writes the access line of a successful call (`call`, with procedure, type, outcome and
 * duration), the same line pino would write. Its fields hold no secret, so it is written without
 * pino's redaction walk (see writeInfoLine). What repeats from call to call is made once: each
 * procedure's fields up to the duration, and the last request id's binding (a batch's calls
 * share it).
 */
export function accessLine(ctx: RequestContext, call: AccessLineCall): void {
  const { requestId, ids, procedure, type, log } = call;
  const micros = Math.round(call.durationMs * 1000);
  const fallback = () => ({ procedure, type, outcome: 'OK', durationMs: micros / 1000 });
  if (!LINE_WRITER) {
    if (log) log.info(fallback(), 'call');
    else ctx.mesh.logger.info({ requestId, ...ids, ...fallback() }, 'call');
    return;
  }
  const fields = `${okFields(procedure, type)}${micros / 1000}`;
  if (log) {
    writeInfoLine(log, '', fields, 'call', fallback, ctx);
    return;
  }
  let bindings: string;
  if (ids) {
    bindings = `,"requestId":${JSON.stringify(requestId)},"traceId":"${ids.traceId}","spanId":"${ids.spanId}"`;
  } else {
    if (requestId !== lastRequestId) {
      lastRequestId = requestId;
      lastRequestBinding = `,"requestId":${JSON.stringify(requestId)}`;
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
  const text = `,"procedure":${JSON.stringify(procedure)},"type":"${type}","outcome":"OK","durationMs":`;
  if (OK_FIELDS.size < 1000) OK_FIELDS.set(procedure, { type, text });
  return text;
}
