import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';

/** The key the hop scenarios' caller identifies itself with; the sy-* servers of servers.ts trust it. */
export const HOP_KEY = 'hop-bench-key-0123456789abcdef';

/** The contract the benchmark callers see of a sy-* server of servers.ts: `hello` answers at once. */
export const helloContract = defineContract({
  hello: { type: 'query', input: z.object({ name: z.string() }), output: z.object({ message: z.string() }), access: 'public' },
});

/** The request the benchmarks send to a sy-* server of servers.ts (wrk and the hop's driver): `hello` as a GET. */
export const HELLO_PATH = `/trpc/hello?input=${encodeURIComponent(JSON.stringify({ json: { name: 'bench' } }))}`;
