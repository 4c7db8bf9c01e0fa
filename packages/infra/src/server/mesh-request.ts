import { IncomingMessage, ServerResponse, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { TRPCError } from '@trpc/server';
import { CALLS_HEADER, decodeCalls, type CallEntry } from '../wire/index.js';
import { callsInRequest } from './call-origins.js';

/**
 * The service's requests: node's IncomingMessage with what the runtime keeps per request, all
 * declared when the request is made so that every request has the same shape.
 */
export class MeshRequest extends IncomingMessage {
  /** When the request arrived, on the `now()` clock. */
  startedAt: number | undefined;
  /** Its x-switchyard-calls entries (or their refusal), when the listener read them. */
  calls: CallEntry[] | TRPCError | undefined;
  /** A POST's body, read by the listener before tRPC runs (tRPC's adapter takes `req.body`). */
  body: string | undefined;

  constructor(socket: Socket) {
    super(socket);
    this.startedAt = undefined;
    this.calls = undefined;
    this.body = undefined;
  }
}

/**
 * Each call's request id, budget, trace and idempotency key from x-switchyard-calls, or the 400
 * that refuses them (thrown by createContext, so both tRPC paths answer it as their own); read
 * once per request.
 */
export function callsOf(req: IncomingMessage, path: string): CallEntry[] | TRPCError {
  const request = req as MeshRequest;
  if (request.calls !== undefined) return request.calls;
  try {
    // A path without a comma is one call, batched or not.
    request.calls = decodeCalls(req.headers[CALLS_HEADER], path.includes(',') ? callsInRequest(req.url ?? '') : 1);
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    request.calls = error;
  }
  return request.calls;
}

const writeHead = ServerResponse.prototype.writeHead as (
  this: ServerResponse,
  statusCode: number,
  reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
) => ServerResponse;

/**
 * The service's responses: while `draining()`, every response not yet sent says
 * `connection: close`, so the listener finishes closing as soon as in-flight requests are done
 * instead of waiting for keep-alive to expire. Read when the headers are written (`res.end`
 * without `writeHead` goes through `writeHead` too), so no set of unsent responses is kept.
 */
export function meshResponse(draining: () => boolean): typeof ServerResponse<MeshRequest> {
  return class MeshResponse extends ServerResponse<MeshRequest> {
    override writeHead(
      statusCode: number,
      reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
      headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
    ): this {
      if (draining() && !this.headersSent) this.setHeader('connection', 'close');
      return writeHead.call(this, statusCode, reason, headers) as this;
    }
  };
}
