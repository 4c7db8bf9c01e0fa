import { TRPCError } from '@trpc/server';
import type { ProcedureInfo, Step } from '../call.js';

/** One problem a schema found; `path` leads to the field. */
export interface Issue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** The issues a schema found, kept as the error's cause (the error formatter reads `issues`). */
export class InvalidValue extends Error {
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((issue) => issue.message).join('; '));
    this.name = 'InvalidValue';
  }
}

type StandardResult = { readonly value: unknown; readonly issues?: undefined } | { readonly issues: readonly Issue[] };
/** A zod schema (`parse` throws an error with `issues`), or any Standard Schema (https://standardschema.dev). */
interface Schema {
  readonly parse?: (value: unknown) => unknown;
  readonly '~standard': { validate(value: unknown): StandardResult | Promise<StandardResult> };
}

/**
 * A schema's check as one function: the parsed value, a promise of it (an async schema), or a
 * throw of `fail(issues)`. zod's own `parse` when it is synchronous (zod answers an async schema
 * by throwing, and from then on `~standard.validate` is used), else the Standard Schema interface.
 */
function checker(schema: Schema, fail: (cause: InvalidValue) => Error): (value: unknown) => unknown {
  const standard = (value: unknown) => {
    const outcome = schema['~standard'].validate(value);
    const settle = (result: StandardResult) => {
      if (result.issues) throw fail(new InvalidValue(result.issues));
      return result.value;
    };
    return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
  };
  const parse = schema.parse;
  if (typeof parse !== 'function') return standard;
  let async = false;
  return (value) => {
    if (async) return standard(value);
    try {
      return parse.call(schema, value);
    } catch (cause) {
      const issues = (cause as { issues?: unknown }).issues;
      if (Array.isArray(issues)) throw fail(new InvalidValue(issues as Issue[]));
      async = true;
      return standard(value);
    }
  };
}

const badInput = (cause: InvalidValue) => new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
const badOutput = (cause: InvalidValue) =>
  new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed', cause });

/** The contract's input schema on the input as sent; what follows sees the parsed input. */
export function validateInput(procedure: ProcedureInfo): Step {
  const check = checker(procedure.def.input as unknown as Schema, badInput);
  return (call, next) => {
    const input = check(call.rawInput());
    if (input instanceof Promise) {
      return input.then((parsed) => {
        call.input = parsed;
        return next(call);
      });
    }
    call.input = input;
    return next(call);
  };
}

/** The contract's output schema on what the handler returned: the caller gets the parsed output. */
export function validateOutput(procedure: ProcedureInfo): Step {
  const check = checker(procedure.def.output as unknown as Schema, badOutput);
  return (call, next) => {
    const data = next(call);
    return data instanceof Promise ? data.then(check) : check(data);
  };
}
