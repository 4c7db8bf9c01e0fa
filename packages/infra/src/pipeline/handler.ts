import type { ProcedureDef } from '@switchyard/api-contracts';
import type { z } from 'zod';
import type { RequestContext } from '../trpc/context.js';
import type { Next } from './call.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * The options a handler receives: the parsed input, the call's context (pass it to service clients
 * so deadline, request id and trace follow the call) and its signal, which fires when the caller
 * goes away or the deadline passes.
 */
export interface HandlerOptions<P extends ProcedureDef> {
  readonly input: z.output<P['input']>;
  readonly ctx: RequestContext;
  readonly signal: AbortSignal;
}

/** One handler, typed from its contract entry: it must return what the output schema accepts. */
export type Handler<P extends ProcedureDef> = (opts: HandlerOptions<P>) => MaybePromise<z.input<P['output']>>;

/** A handler for every procedure of the contract, and nothing else. */
export type Handlers<C extends Record<string, ProcedureDef>> = { readonly [K in keyof C]: Handler<C[K]> };

/** A handler's options; the signal is made only when the handler reads it. */
class HandlerCall<P extends ProcedureDef> implements HandlerOptions<P> {
  constructor(
    readonly input: z.output<P['input']>,
    readonly ctx: RequestContext,
  ) {}

  get signal(): AbortSignal {
    return this.ctx.signal;
  }
}

/** The last step of a pipeline: the procedure's handler, on the validated input. */
export function handlerStep(handler: Handler<ProcedureDef>): Next {
  return (call) => handler(new HandlerCall(call.input, call.ctx));
}
