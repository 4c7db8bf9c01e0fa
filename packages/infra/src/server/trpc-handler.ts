import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { getErrorShape, getTRPCErrorFromUnknown, transformTRPCResponse } from '@trpc/server/unstable-core-do-not-import';
import type { RequestContext } from '../trpc/context.js';
import { createFastTrpc } from './fast-trpc.js';

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
export type TrpcHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

/**
 * The HTTP adapter between node:http and tRPC: JSON queries and mutations, batched or not, take
 * the fast path (fast-trpc.ts, wire-compatible); everything else goes to tRPC's own node-http
 * adapter, with the body limit checked up front from `content-length` (a chunked body is cut by
 * tRPC's own `maxBodySize` as it streams). `fast: false` sends everything to the stock adapter.
 */
export function createTrpcHandler(options: TrpcHandlerOptions & { fast?: boolean }): TrpcHandler {
  const stock = createStockHandler(options);
  if (options.fast === false) return stock;
  const fast = createFastTrpc(options);
  return (req, res, path) => {
    const plan = fast.select(req, path);
    if (!plan) return stock(req, res, path);
    // Never a rejection out of here (it would end the process): an unexpected failure is answered
    // as the stock adapter answers its own, a 500 with the formatted error.
    return fast.handle(req, res, plan).catch((cause: unknown) => {
      const error = getTRPCErrorFromUnknown(cause);
      options.onError({ error, path: undefined, type: 'unknown', ctx: undefined, req });
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const config = options.router._def._config;
      const shape = getErrorShape({ config, error, type: 'unknown', path: undefined, input: undefined, ctx: undefined });
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(transformTRPCResponse(config, { error: shape })));
    });
  };
}

function createStockHandler(options: TrpcHandlerOptions): TrpcHandler {
  return (req, res, path) =>
    nodeHTTPRequestHandler({
      router: options.router,
      req,
      res,
      path,
      maxBodySize: options.maxBodyBytes,
      maxBatchSize: options.maxBatchSize,
      allowMethodOverride: false,
      createContext: ({ req: innerReq, res: innerRes }) => options.createContext(innerReq, innerRes),
      middleware: (innerReq, innerRes, next) => {
        const declared = Number(innerReq.headers['content-length'] ?? 0);
        if (declared > options.maxBodyBytes) {
          // The unread body is not worth draining: close the connection after the answer.
          innerRes.setHeader('connection', 'close');
          next(new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `Request body over ${options.maxBodyBytes} bytes` }));
          return;
        }
        next();
      },
      onError: ({ error, path: callPath, type, ctx, req: innerReq }) =>
        options.onError({ error, path: callPath, type, ctx: ctx as RequestContext | undefined, req: innerReq }),
    });
}
