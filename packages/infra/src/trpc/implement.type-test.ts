// Type tests, compiled by `npm run typecheck`; see tooling/type-tests for how each
// `@ts-expect-error` is proven necessary.
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { implement } from './implement.js';

const contract = defineContract({
  get: {
    type: 'query',
    input: z.object({ id: z.string() }),
    output: z.object({ id: z.string(), size: z.number() }),
    access: 'public',
  },
  put: {
    type: 'mutation',
    input: z.object({ id: z.string(), size: z.number().default(1) }),
    output: z.object({ ok: z.boolean() }),
    access: 'user',
  },
});

export const good = implement(contract, {
  get: ({ input }) => ({ id: input.id, size: input.id.length }),
  put: async ({ input }) => ({ ok: input.size > 0 }),
});

export const wrongOutput = implement(contract, {
  // @ts-expect-error a handler returning the wrong output type
  get: ({ input }) => ({ id: input.id, size: 'big' }),
  put: () => ({ ok: true }),
});

export const unknownProcedure = implement(contract, {
  get: ({ input }) => ({ id: input.id, size: 1 }),
  put: () => ({ ok: true }),
  // @ts-expect-error a handler for a procedure the contract does not have
  delete: () => ({ ok: true }),
});

// @ts-expect-error a procedure of the contract left without a handler
export const missingHandler = implement(contract, { get: ({ input }) => ({ id: input.id, size: 1 }) });

export const wrongInputUse = implement(contract, {
  // @ts-expect-error the input is typed from the schema: id is a string, not a number
  get: ({ input }) => ({ id: input.id, size: input.id.toFixed(2) }),
  put: () => ({ ok: true }),
});
