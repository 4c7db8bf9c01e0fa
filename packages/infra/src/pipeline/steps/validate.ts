import { TRPCError } from '@trpc/server';
import { andThen, type Step } from '../call.js';

/** The Standard Schema interface (https://standardschema.dev), which zod 4 schemas implement. */
interface StandardSchema {
  readonly '~standard': {
    validate(value: unknown): StandardResult | Promise<StandardResult>;
  };
}
type StandardResult = { readonly value: unknown; readonly issues?: undefined } | { readonly issues: readonly Issue[] };
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

/** Validates `value` with a Standard Schema (zod 4 is one): the parsed value, or a throw. */
function check(schema: StandardSchema, value: unknown, fail: (cause: InvalidValue) => Error): unknown {
  const outcome = schema['~standard'].validate(value);
  return andThen(outcome, (result) => {
    if (result.issues) throw fail(new InvalidValue(result.issues));
    return result.value;
  });
}

const badInput = (cause: InvalidValue) => new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
const badOutput = (cause: InvalidValue) =>
  new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed', cause });

/** The contract's input schema on the input as sent; what follows sees the parsed input. */
export const validateInput: Step = (call, next) =>
  andThen(check(call.procedure.def.input as StandardSchema, call.rawInput(), badInput), (input) => {
    call.input = input;
    return next(call);
  });

/** The contract's output schema on what the handler returned: the caller gets the parsed output. */
export const validateOutput: Step = (call, next) =>
  andThen(next(call), (data) => check(call.procedure.def.output as StandardSchema, data, badOutput));
