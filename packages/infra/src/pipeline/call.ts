import type { ProcedureDef, ProcedureMeta } from '@switchyard/api-contracts';
import type { RequestContext } from '../trpc/context.js';

type MaybePromise<T> = T | Promise<T>;

/** What a procedure's pipeline knows of the procedure it runs. */
export interface ProcedureInfo {
  readonly name: string;
  readonly def: ProcedureDef;
  readonly meta: ProcedureMeta;
}

/**
 * One call going through a procedure's pipeline: its context (with the call's own deadline,
 * signal and logger), the input as the client sent it, and the input once validated.
 */
export interface PipelineCall {
  readonly procedure: ProcedureInfo;
  readonly ctx: RequestContext;
  /** The call's input as sent (deserialized), or a throw with its read error. */
  readonly rawInput: () => unknown;
  /** The validated input, set by the input step. */
  input: unknown;
}

/** The rest of the pipeline after a step. */
export type Next = (call: PipelineCall) => MaybePromise<unknown>;

/**
 * A step of the procedure pipeline: it may refuse the call (throw), wrap what follows (call
 * `next` and act on its result) or answer on its own. A step that answers at once returns a
 * value, not a promise, so a call whose every step is synchronous costs no microtask.
 */
export type Step = (call: PipelineCall, next: Next) => MaybePromise<unknown>;

/** Chains steps in order in front of `last`: `compose([a, b], h)(call)` runs a, then b, then h. */
export function compose(steps: readonly Step[], last: Next): Next {
  return steps.reduceRight<Next>((next, step) => (call) => step(call, next), last);
}
