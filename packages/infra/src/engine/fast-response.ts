import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, transformTRPCResponse, type TRPCError } from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';
import superjson from 'superjson';
import type { TrpcHandlerOptions } from '../server/trpc-handler.js';
import type { RequestContext } from '../trpc/context.js';
import { requestIdScope } from '../trpc/request-scope.js';
import type { FastPlan } from './fast-plan.js';
import { plainText } from './plain-json.js';
import type { routerConfig } from './router-internals.js';
import { bypassOn } from './switches.js';

/** A call's outcome: its error, or its data. */
export type Outcome = [TRPCError, undefined] | [undefined, unknown];

const VARY = 'trpc-accept, accept';

/** `isDataStream` of tRPC: a result with promises or async iterables cannot go in a JSON body. */
export function isDataStream(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Symbol.asyncIterator in value) return true;
  for (const v of Object.values(value)) {
    if (v instanceof Promise || (v !== null && typeof v === 'object' && Symbol.asyncIterator in v)) return true;
  }
  return false;
}

/** An error's shape; without a context (it failed), the request id comes from the response's. */
function shapeOf(res: ServerResponse, opts: Parameters<typeof getErrorShape>[0]) {
  if (opts.ctx !== undefined) return getErrorShape(opts);
  return requestIdScope.run(res.getHeader('x-request-id') as string | undefined, () => getErrorShape(opts));
}

/**
 * The body of calls that all succeeded, as transformTRPCResponse makes it, as JSON text. With
 * superjson, plain JSON data is written by plainText (superjson writes it as `{ json: data }`) and
 * a batch's items joined; else one JSON.stringify.
 */
function successWriter(config: ReturnType<typeof routerConfig>) {
  const serialize = config.transformer.output.serialize as (value: unknown) => unknown;
  if (config.transformer.output !== superjson || !bypassOn('plainJsonText')) {
    return (results: Outcome[], isBatch: boolean): string =>
      JSON.stringify(
        isBatch
          ? results.map(([, data]) => ({ result: { data: serialize(data) } }))
          : { result: { data: serialize(results[0]![1]) } },
      );
  }
  const item = (data: unknown): string => {
    const plain = plainText(data);
    return plain === undefined ? JSON.stringify({ result: { data: serialize(data) } }) : `{"result":{"data":{"json":${plain}}}}`;
  };
  return (results: Outcome[], isBatch: boolean): string => {
    if (!isBatch) return item(results[0]![1]);
    let text = '[';
    for (let i = 0; i < results.length; i++) text += i === 0 ? item(results[i]![1]) : `,${item(results[i]![1])}`;
    return `${text}]`;
  };
}

/** Writes a request's response from its calls' outcomes, with the status tRPC's adapter gives them. */
export function createResponder(options: TrpcHandlerOptions, config: ReturnType<typeof routerConfig>) {
  const success = successWriter(config);
  return (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext | undefined,
    plan: FastPlan,
    results: Outcome[],
    inputAt: (index: number) => unknown,
  ): void => {
    const { paths, type } = plan;
    let status: number;
    let body: string;
    try {
      if (results.some(([error]) => error !== undefined)) {
        const errors = results.map(([error]) => error);
        const untransformed = results.map(([error, data], index) =>
          error
            ? { error: shapeOf(res, { config, ctx, error, input: inputAt(index), path: paths[index]!, type }) }
            : { result: { data } },
        );
        status = getHTTPStatusCode(untransformed, errors);
        body = JSON.stringify(transformTRPCResponse(config, plan.isBatch ? untransformed : untransformed[0]!));
      } else {
        // Every call succeeded: 200 (getHTTPStatusCode's answer for no errors), items written directly.
        status = 200;
        body = success(results, plan.isBatch);
      }
    } catch (cause) {
      // The output cannot be serialized (superjson refuses it): one error for the whole
      // response, as the stock adapter's catch-all answers it.
      const error = getTRPCErrorFromUnknown(cause);
      options.onError({ error, path: undefined, type, ctx, req });
      const shape = { error: shapeOf(res, { config, ctx, error, input: undefined, path: undefined, type }) };
      status = getHTTPStatusCode(shape, [error]);
      body = JSON.stringify(transformTRPCResponse(config, shape));
    }
    if (res.statusCode === 200) res.statusCode = status;
    res.setHeader('vary', VARY);
    res.setHeader('content-type', 'application/json');
    // A known length: one write, no chunked framing (the stock adapter streams its body).
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  };
}
