// What the benchmark scripts share. It imports no workspace package: the scripts run the compiled
// packages (dist/), which a fresh clone lacks until buildPackages() has run, and a static import of
// one would fail before any code could build it (hello-contract.ts holds what needs one).
import { spawnSync } from 'node:child_process';
import { Agent, get } from 'node:http';

/** The key the hop scenarios' caller identifies itself with; the sy-* servers of servers.ts trust it. */
export const HOP_KEY = 'hop-bench-key-0123456789abcdef';

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

/** The servers run the compiled packages, as production does: builds them first (turbo's cache makes a rerun cheap). */
export function buildPackages(): void {
  const build = spawnSync('npx', ['turbo', 'run', 'build', '--filter=@switchyard/infra', '--output-logs=errors-only'], {
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (build.status !== 0) throw new Error('npm run build failed');
}
