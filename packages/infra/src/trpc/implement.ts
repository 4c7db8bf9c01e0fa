import type { Contract, ProcedureDef, ProcedureMeta, RouterOf } from '@switchyard/api-contracts';
import type { z } from 'zod';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { authorize } from './authorize.js';
import { limitRate } from './limit-rate.js';
import type { RequestContext } from './context.js';
import { t } from './mesh.js';
import { observeCall } from './observe.js';

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

/** The handler's result, or a rejection as soon as the call's signal fires (deadline or caller gone). */
function untilAborted<T>(work: T | Promise<T>, signal: AbortSignal): T | Promise<T> {
  if (!(work instanceof Promise)) return work;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

function abortError(signal: AbortSignal): SwitchyardError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError'
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
    const run = ({ input, ctx }: { input: unknown; ctx: RequestContext }) =>
      untilAborted(handler({ input, ctx, signal: ctx.signal }), ctx.signal);
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
  }
  for (const name of Object.keys(handlers as object)) {
    if (!(name in contract)) throw new TypeError(`implement: handler "${name}" is not in the contract`);
  }
  return t.router(procedures as Parameters<typeof t.router>[0]) as unknown as RouterOf<C>;
}
