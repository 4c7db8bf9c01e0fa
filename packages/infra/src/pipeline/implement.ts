import type { Contract, ProcedureDef, ProcedureMeta, RouterOf } from '@switchyard/api-contracts';
import { t } from '../trpc/mesh.js';
import type { RequestContext } from '../trpc/context.js';
import { compose, type ProcedureInfo, type Step } from './call.js';
import { handlerStep, type Handler, type Handlers } from './handler.js';
import { observed, type CallResult } from './observe.js';
import { callContext } from './scope.js';
import { access } from './steps/access.js';
import { deadline } from './steps/deadline.js';
import { idempotency } from './steps/idempotency.js';
import { rateLimit } from './steps/rate-limit.js';
import { validateInput, validateOutput } from './steps/validate.js';

/**
 * A procedure's pipeline: every step of a call, in order, from the request's context and the
 * call's input as sent to its outcome. The tRPC procedure runs it, and so does the fast HTTP
 * adapter (found on the router under {@link PIPELINES}): a step is written once.
 */
export type Pipeline = (call: {
  ctx: RequestContext;
  /** The call's input as sent (deserialized), or a throw with its read error. */
  rawInput: () => unknown;
  batchIndex: number;
}) => CallResult | Promise<CallResult>;

/** Where {@link implement} leaves each procedure's pipeline on the router, by path. */
export const PIPELINES = Symbol.for('switchyard.pipelines');

/** Options of {@link implement}. */
export interface ImplementOptions {
  /** Steps of the service's own, run after the mesh's checks and before the handler. */
  steps?: readonly Step[];
}

function metaOf(def: ProcedureDef): ProcedureMeta {
  return {
    access: def.access,
    idempotent: def.type === 'query' || def.idempotent === true,
    rateLimitCost: def.rateLimitCost ?? 1,
    ...(def.timeoutMs !== undefined ? { timeoutMs: def.timeoutMs } : {}),
  };
}

/**
 * The pipeline of one procedure: observe (outermost), access, rate limit, input, output,
 * the service's own steps, idempotency, deadline, handler.
 */
function buildPipeline(procedure: ProcedureInfo, handler: Handler<ProcedureDef>, own: readonly Step[]): Pipeline {
  // Each step is made for the procedure; one that cannot apply to it (an access rule for a
  // public procedure, idempotency for a query) is left out.
  const mesh = [access, rateLimit, validateInput, validateOutput].map((make) => make(procedure));
  const last = [idempotency(procedure), deadline()];
  const steps = [...mesh, ...own, ...last].filter((step): step is Step => step !== undefined);
  const run = compose(steps, handlerStep(handler));
  const observe = { path: procedure.name, type: procedure.def.type, timeoutMs: procedure.meta.timeoutMs };
  return ({ ctx, rawInput, batchIndex }) =>
    observed(ctx, observe, batchIndex, (scope) => run({ procedure, ctx: callContext(ctx, scope), rawInput, input: undefined }));
}

/** tRPC reads the input as sent; the pipeline validates it. */
const asSent = (raw: unknown) => raw;

/**
 * Builds the tRPC router of a contract. Handlers are typed from the contract's schemas; inputs and
 * outputs are validated at run time; every call is measured and logged.
 * @example const router = implement(notesContract, { get: async ({ input }) => store.get(input.id), ... });
 */
export function implement<const C extends Contract>(
  contract: C,
  handlers: NoInfer<Handlers<C>>,
  options: ImplementOptions = {},
): RouterOf<C> {
  const procedures: Record<string, unknown> = {};
  const pipelines: Record<string, Pipeline> = {};
  for (const [name, def] of Object.entries(contract)) {
    const handler = (handlers as Record<string, Handler<ProcedureDef> | undefined>)[name];
    if (typeof handler !== 'function') throw new TypeError(`implement: no handler for procedure "${name}"`);
    const meta = metaOf(def);
    const pipeline = buildPipeline({ name, def, meta }, handler, options.steps ?? []);
    const resolve = async ({ ctx, input, batchIndex }: { ctx: RequestContext; input: unknown; batchIndex?: number }) => {
      const result = await pipeline({ ctx, rawInput: () => input, batchIndex: batchIndex ?? 0 });
      if (result.ok) return result.data;
      throw result.error;
    };
    const builder = t.procedure.meta(meta).input(asSent);
    procedures[name] = def.type === 'query' ? builder.query(resolve) : builder.mutation(resolve);
    pipelines[name] = pipeline;
  }
  for (const name of Object.keys(handlers as object)) {
    if (!(name in contract)) throw new TypeError(`implement: handler "${name}" is not in the contract`);
  }
  const router = t.router(procedures as Parameters<typeof t.router>[0]);
  Object.defineProperty(router, PIPELINES, { value: pipelines });
  return router as unknown as RouterOf<C>;
}
