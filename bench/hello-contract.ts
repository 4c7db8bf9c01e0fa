import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';

/** The contract the benchmark callers see of a sy-* server of servers.ts: `hello` answers at once. */
export const helloContract = defineContract({
  hello: { type: 'query', input: z.object({ name: z.string() }), output: z.object({ message: z.string() }), access: 'public' },
});
