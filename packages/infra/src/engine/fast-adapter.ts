import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError, getTRPCErrorFromUnknown } from '@trpc/server';
import type { CallResult } from '../pipeline/observe.js';
import type { TrpcHandlerOptions } from '../server/trpc-handler.js';
import type { RequestContext } from '../trpc/context.js';
import { LazyInputs, inputDeserializer, readBody } from './fast-inputs.js';
import { createPlanner, type FastPlan } from './fast-plan.js';
import { createResponder, isDataStream, type Outcome } from './fast-response.js';
import { holdLines, releaseLines } from './line-writer.js';
import { routerConfig } from './router-internals.js';

export type { FastPlan } from './fast-plan.js';

/**
 * The fast path of the tRPC HTTP adapter: JSON queries (GET) and mutations (POST), batched or not,
 * answered from node:http without building a Fetch `Request`, `Response`, `Headers`, web streams
 * or per-call `AbortController`s, which is where the stock adapter spends its time. It follows
 * tRPC 11's `resolveResponse` step by step (same error shapes, messages, status codes, `vary`
 * header, onError calls, lazy input parsing after the procedure's middlewares) and takes only the
 * requests it can answer exactly so (see createPlanner); the stock adapter answers the rest.
 * Differential tests (fast-adapter.test.ts) send one corpus to both.
 */
export interface FastTrpc {
  /** Whether the fast path answers this request; decided before reading anything. */
  select(req: IncomingMessage, path: string): FastPlan | undefined;
  handle(req: IncomingMessage, res: ServerResponse, plan: FastPlan): Promise<void>;
}

const STREAM_IN_JSON = 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink';

export function createFastTrpc(options: TrpcHandlerOptions): FastTrpc {
  const config = routerConfig(options.router);
  const deserialize = inputDeserializer(config.transformer);
  const respond = createResponder(options, config);

  return {
    select: createPlanner(options),

    async handle(req, res, plan) {
      const { paths, type } = plan;
      let bodyText: string | null;
      try {
        bodyText = req.method === 'POST' ? await readBody(req) : plan.queryInput;
      } catch {
        // The client went away mid-body (or the socket failed): nobody is left to answer.
        res.destroy();
        return;
      }
      const inputs = new LazyInputs(bodyText, plan.isBatch ? paths.length : undefined, deserialize);

      let ctx: RequestContext | undefined;
      let ctxError: TRPCError | undefined;
      try {
        const made = options.createContext(req, res);
        ctx = made instanceof Promise ? await made : made;
      } catch (cause) {
        ctxError = getTRPCErrorFromUnknown(cause);
      }

      const failure = (cause: unknown, path: string): Outcome => {
        const error = getTRPCErrorFromUnknown(cause);
        options.onError({ error, path, type, ctx, req });
        return [error, undefined];
      };
      const success = (data: unknown, path: string): Outcome =>
        isDataStream(data)
          ? failure(new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: STREAM_IN_JSON }), path)
          : [undefined, data];
      const settle = (result: CallResult, path: string): Outcome =>
        result.ok ? success(result.data, path) : failure(result.error, path);
      // A batch's access lines go to the log in one write, when its response is ready.
      const holding = ctx !== undefined && paths.length > 1;
      if (holding) holdLines(ctx!);
      // Calls answered at once (every step synchronous) need no promise: the response is written
      // in the same tick as the request was read.
      let pending = false;
      const outcomes = paths.map((path, index): Outcome | Promise<Outcome> => {
        try {
          if (ctxError) throw ctxError;
          const { procedure, call } = plan.entries[index]!;
          if (call) {
            const result = call({ ctx: ctx!, rawInput: () => inputs.at(index), batchIndex: index });
            if (!(result instanceof Promise)) return settle(result, path);
            pending = true;
            return result.then(
              (settled) => settle(settled, path),
              (cause: unknown) => failure(cause, path),
            );
          }
          const getRawInput = () => {
            try {
              return Promise.resolve(inputs.at(index));
            } catch (cause) {
              return Promise.reject(cause as Error);
            }
          };
          pending = true;
          return procedure({ path, getRawInput, ctx, type, signal: ctx!.signal, batchIndex: index }).then(
            (data: unknown) => success(data, path),
            (cause: unknown) => failure(cause, path),
          );
        } catch (cause) {
          return failure(cause, path);
        }
      });
      const results = pending ? await Promise.all(outcomes) : (outcomes as Outcome[]);
      if (holding) releaseLines(ctx!);
      respond(req, res, ctx, plan, results, (index) => inputs.parsed(index));
    },
  };
}
