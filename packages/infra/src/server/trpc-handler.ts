import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, transformTRPCResponse, type AnyTRPCRouter, type TRPCError } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { routerConfig } from '../engine/router-internals.js';
import type { RequestContext } from '../trpc/context.js';
import { requestIdScope } from '../trpc/request-scope.js';
import { createFastTrpc } from '../engine/fast-adapter.js';
import { bypassOn } from '../engine/switches.js';

/** Options of {@link createTrpcHandler}. */
export interface TrpcHandlerOptions {
  router: AnyTRPCRouter;
  /** Largest request body in bytes: larger gets 413 and runs no handler. */
  maxBodyBytes: number;
  /** Most calls in one batch: more gets 400 and runs no handler. */
  maxBatchSize: number;
  createContext(req: IncomingMessage, res: ServerResponse): RequestContext | Promise<RequestContext>;
  /** Called for every error of a call (inside or outside a procedure). */
  onError(opts: {
    error: TRPCError;
    path: string | undefined;
    type: string;
    ctx: RequestContext | undefined;
    req: IncomingMessage;
  }): void;
}

/** Serves one tRPC request; `path` is the procedure path (`get`, or `get,list` for a batch). */
export interface TrpcHandler {
  (req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Answers a request with the mesh's error for `error`, running no procedure. */
  refuse(req: IncomingMessage, res: ServerResponse, path: string, error: TRPCError): void;
}

/**
 * The HTTP adapter between node:http and tRPC: JSON queries and mutations, batched or not, take
 * the fast path (engine/fast-adapter.ts, wire-compatible); everything else goes to tRPC's own node-http
 * adapter. A POST body arrives already read (`req.body`, see readRequestBody), so both take it
 * from there; tRPC's `maxBodySize` still cuts a body it reads itself. `fast: false` sends
 * everything to the stock adapter.
 */
export function createTrpcHandler(options: TrpcHandlerOptions & { fast?: boolean }): TrpcHandler {
  const stock = createStockHandler(options);
  const refuse = createRefusal(options);
  if (options.fast === false || !bypassOn('fastAdapter')) return Object.assign(stock, { refuse });
  const fast = createFastTrpc(options);
  const handler = (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const plan = fast.select(req, path);
    if (!plan) return stock(req, res, path);
    // Never a rejection out of here (it would end the process): an unexpected failure is answered
    // as the stock adapter answers its own, a 500 with the formatted error.
    return fast.handle(req, res, plan).catch((cause: unknown) => {
      const error = getTRPCErrorFromUnknown(cause);
      if (res.headersSent || res.destroyed) {
        options.onError({ error, path: undefined, type: 'unknown', ctx: undefined, req });
        res.destroy();
        return;
      }
      refuse(req, res, path, error);
    });
  };
  return Object.assign(handler, { refuse });
}

/** The request id the service gave the response (see the listener in service.ts). */
const requestIdOf = (res: ServerResponse) => res.getHeader('x-request-id') as string | undefined;

/** Writes the mesh's error for a request that runs no procedure, in tRPC's wire shape. */
function createRefusal(options: TrpcHandlerOptions): TrpcHandler['refuse'] {
  const config = routerConfig(options.router);
  return (req, res, path, error) => {
    options.onError({ error, path, type: 'unknown', ctx: undefined, req });
    const shape = requestIdScope.run(requestIdOf(res), () =>
      getErrorShape({ config, error, type: 'unknown', path, input: undefined, ctx: undefined }),
    );
    const body = JSON.stringify(transformTRPCResponse(config, { error: shape }));
    res.writeHead(shape.data.httpStatus, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

/**
 * tRPC's own node-http adapter, for what the fast path does not take (other content types,
 * streams, percent-encoded paths, batches over the limit): run inside the request-id scope, with
 * a JSON content type on every error it answers (tRPC leaves some of them `text/plain`).
 */
function createStockHandler(options: TrpcHandlerOptions) {
  return (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> =>
    requestIdScope.run(requestIdOf(res), () =>
      nodeHTTPRequestHandler({
        router: options.router,
        req,
        res,
        path,
        maxBodySize: options.maxBodyBytes,
        maxBatchSize: options.maxBatchSize,
        allowMethodOverride: false,
        createContext: ({ req: innerReq, res: innerRes }) => options.createContext(innerReq, innerRes),
        responseMeta: ({ errors }) => (errors.length > 0 ? { headers: { 'content-type': 'application/json' } } : {}),
        middleware: (_innerReq, innerRes, next) => {
          // tRPC's last-resort handler writes no content type of its own.
          innerRes.setHeader('content-type', 'application/json');
          next();
        },
        onError: ({ error, path: callPath, type, ctx, req: innerReq }) =>
          options.onError({ error, path: callPath, type, ctx: ctx as RequestContext | undefined, req: innerReq }),
      }),
    );
}
