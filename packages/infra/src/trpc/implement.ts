import type { Contract, ProcedureDef, ProcedureMeta, RouterOf } from '@switchyard/api-contracts';
import type { z } from 'zod';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { TRPCError } from '@trpc/server';
import { getParseFn } from '@trpc/server/unstable-core-do-not-import';
import { accessDenied, authorize } from './authorize.js';
import { limitRate, takeRateLimit } from './limit-rate.js';
import type { RequestContext } from './context.js';
import { t } from './mesh.js';
import { callContext, observeCall, observed, watchAbort, type CallResult } from './observe.js';

/**
 * Where {@link implement} leaves each procedure's direct call on the router: the same steps as
 * the tRPC procedure (observe, access, rate limit, input, handler, output) in one function, for
 * the fast HTTP path. The stock adapter runs the tRPC procedure; the differential tests hold the
 * two to the same answers.
 */
export const DIRECT_CALLS = Symbol.for('switchyard.directCalls');

/**
 * A procedure's direct call (see {@link DIRECT_CALLS}): its outcome, synchronously when every step
 * answered at once. `rawInput` returns the call's deserialized input or throws its input error.
 */
export type DirectCall = (opts: {
  ctx: RequestContext;
  rawInput: () => unknown;
  batchIndex: number;
}) => CallResult | Promise<CallResult>;

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
export type Handlers<C extends Contract> = { readonly [K in keyof C]: Handler<C[K]> };

function metaOf(def: ProcedureDef): ProcedureMeta {
  return {
    access: def.access,
    idempotent: def.type === 'query' || def.idempotent === true,
    rateLimitCost: def.rateLimitCost ?? 1,
    ...(def.timeoutMs !== undefined ? { timeoutMs: def.timeoutMs } : {}),
  };
}

/**
 * A handler's options. A class, its signal a getter on the prototype: an object literal with a
 * getter closing over the call gave every call a hidden class of its own (V8 keeps accessors in
 * the map), and those maps, which only a full GC collects, kept each call's request, response and
 * context alive past the young generation: scavenges of 6-7 ms every 30 ms under load.
 */
class Call<P extends ProcedureDef> implements HandlerOptions<P> {
  constructor(
    readonly input: z.output<P['input']>,
    readonly ctx: RequestContext,
  ) {}

  /** Made on first use (see RequestContext.signal). */
  get signal(): AbortSignal {
    return this.ctx.signal;
  }
}

/** The handler's result, or a rejection as soon as the call's deadline passes or its caller goes away. */
function untilAborted<T>(work: T | Promise<T>, ctx: RequestContext): T | Promise<T> {
  // A result at hand needs no watch (nor the timer behind it).
  if (!(work instanceof Promise)) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = watchAbort(ctx, (reason) => reject(abortError(reason)));
    work.then(
      (value) => {
        stop();
        resolve(value);
      },
      (error: unknown) => {
        stop();
        reject(error as Error);
      },
    );
  });
}

function abortError(reason: 'deadline' | 'gone'): SwitchyardError {
  return reason === 'deadline'
    ? new SwitchyardError('DEADLINE_EXCEEDED', 'The call did not finish within its deadline')
    : new SwitchyardError('CLIENT_CLOSED_REQUEST', 'The caller went away');
}

/**
 * Builds the tRPC router of a contract. Handlers are typed from the contract's schemas; inputs and
 * outputs are validated at run time; every call is measured and logged.
 * @example const router = implement(notesContract, { get: async ({ input }) => store.get(input.id), ... });
 */
export function implement<const C extends Contract>(contract: C, handlers: NoInfer<Handlers<C>>): RouterOf<C> {
  const procedures: Record<string, unknown> = {};
  const direct: Record<string, DirectCall> = {};
  for (const [name, def] of Object.entries(contract)) {
    const handler = (handlers as Record<string, Handler<ProcedureDef> | undefined>)[name];
    if (typeof handler !== 'function') throw new TypeError(`implement: no handler for procedure "${name}"`);
    const builder = t.procedure
      .meta(metaOf(def))
      .use(observeCall)
      .use(authorize)
      .use(limitRate)
      .input(def.input)
      .output(def.output);
    const run = ({ input, ctx }: { input: unknown; ctx: RequestContext }) => untilAborted(handler(new Call(input, ctx)), ctx);
    // A mutation sent with an Idempotency-Key runs once per caller, key and input.
    const resolve =
      def.type === 'mutation'
        ? (opts: { input: unknown; ctx: RequestContext }) => {
            const { idempotency } = opts.ctx.mesh;
            if (!opts.ctx.idempotencyKey || !idempotency) return run(opts);
            const { user, caller, clientIp } = opts.ctx;
            const scope = user ? `u:${user.id}` : caller ? `s:${caller.service}` : `ip:${clientIp}`;
            return idempotency.run(
              { scope, key: opts.ctx.idempotencyKey, procedure: name, input: opts.input },
              async () => run(opts),
              opts.ctx.signal,
            );
          }
        : run;
    procedures[name] = def.type === 'query' ? builder.query(resolve) : builder.mutation(resolve);
    direct[name] = directCall(name, def, resolve);
  }
  for (const name of Object.keys(handlers as object)) {
    if (!(name in contract)) throw new TypeError(`implement: handler "${name}" is not in the contract`);
  }
  const router = t.router(procedures as Parameters<typeof t.router>[0]);
  Object.defineProperty(router, DIRECT_CALLS, { value: direct });
  return router as unknown as RouterOf<C>;
}

/** The tRPC procedure's steps, in its order, without its middleware machinery. */
function directCall(
  name: string,
  def: ProcedureDef,
  resolve: (opts: { input: unknown; ctx: RequestContext }) => unknown,
): DirectCall {
  const meta = metaOf(def);
  const parseInput = getParseFn(def.input);
  const parseOutput = getParseFn(def.output);
  const badInput = (cause: unknown) => new TRPCError({ code: 'BAD_REQUEST', cause });
  const badOutput = (cause: unknown) =>
    new TRPCError({ message: 'Output validation failed', code: 'INTERNAL_SERVER_ERROR', cause });
  const ok = (data: unknown): CallResult => ({ ok: true, data });
  // Each step continues at once when the one before answered at once (a sync handler, no rate
  // limiter, a synchronous schema): no promise or microtask unless some step is asynchronous.
  const output = (data: unknown): CallResult | Promise<CallResult> => {
    let parsed: unknown;
    try {
      parsed = parseOutput(data);
    } catch (cause) {
      throw badOutput(cause);
    }
    return parsed instanceof Promise
      ? parsed.then(ok, (cause: unknown) => {
          throw badOutput(cause);
        })
      : ok(parsed);
  };
  const handle = (ctx: RequestContext, input: unknown) => {
    const data = resolve({ input, ctx });
    return data instanceof Promise ? data.then(output) : output(data);
  };
  const afterLimit = (ctx: RequestContext, rawInput: () => unknown) => {
    const raw = rawInput();
    let input: unknown;
    try {
      input = parseInput(raw);
    } catch (cause) {
      throw badInput(cause);
    }
    return input instanceof Promise
      ? input.then(
          (value) => handle(ctx, value),
          (cause: unknown) => {
            throw badInput(cause);
          },
        )
      : handle(ctx, input);
  };
  const steps = (ctx: RequestContext, rawInput: () => unknown): CallResult | Promise<CallResult> => {
    const denied = accessDenied(meta.access, ctx);
    if (denied) throw denied;
    const limited = takeRateLimit(ctx, meta.rateLimitCost);
    return limited ? limited.then(() => afterLimit(ctx, rawInput)) : afterLimit(ctx, rawInput);
  };
  return ({ ctx, rawInput, batchIndex }) =>
    observed(ctx, name, def.type, meta.timeoutMs, batchIndex, (scope) => steps(callContext(ctx, scope), rawInput));
}
