import { Agent, get } from 'node:http';
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

/** S8's page: `hello` ten times in one batched GET, as a browser's httpBatchLink sends it. */
export const PAGE_PATH = `/trpc/${Array(10).fill('hello').join(',')}?batch=1&input=${encodeURIComponent(
  JSON.stringify(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i, { json: { name: 'bench' } }]))),
)}`;

/**
 * `requests` GETs of `path` on 127.0.0.1:`port`, one at a time on one keep-alive connection (the
 * instruction counts' drivers: one request in flight keeps their work the same from run to run);
 * each must answer 200.
 */
export async function getOneAtATime(port: number, path: string, requests: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < requests; i++) {
      await new Promise<void>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path} answered ${res.statusCode}`))));
        }).on('error', reject);
      });
    }
  } finally {
    agent.destroy();
  }
}
