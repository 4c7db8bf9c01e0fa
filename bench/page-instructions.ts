// S8 counted in machine instructions: a page of 10 queries batched (one request) against the same
// page unbatched (10 requests), in the Switchyard server of http.ts (sy-bare of servers.ts: request
// id, metrics and access log on) under valgrind's callgrind. The timed S8 of http.ts moves with the
// VM (its ratio is 10(a+b)/(a+10b), with `a` a request's own work, much of it in the kernel, and
// `b` a call's, all of it in the process); this counts the process's own instructions, which repeat
// from run to run, so it shows what a change does to a batched call. Kernel time is not counted
// here, so this ratio is below the timed one.
// After a warm-up of both kinds of request, the counter is zeroed, `--pages` batched pages are sent
// one at a time on one keep-alive connection, and the count is dumped; then the same for the
// unbatched pages. V8's one-time work (compiling, deoptimizing) is left out and printed; a full GC
// is kept out of the windows by a large old space. Under callgrind a millisecond holds ~50 times
// fewer requests than on the VM, so work done once per millisecond (the log time's text) weighs
// more here than there.
// `--quick`: few pages (keeps the harness working; its figures mean little). `--pages=N --warmup=N`.
// JSON: results/page-instructions.json.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countWindow, requireCallgrind, underCallgrind, waitFor } from './callgrind.js';
import { HELLO_PATH, PAGE_PATH, buildPackages, getOneAtATime } from './shared.js';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const WARMUP = Number(arg('warmup') ?? (quick ? 100 : 3_000));
const PAGES = Number(arg('pages') ?? (quick ? 20 : 1_000));
const SERVERS = fileURLToPath(new URL('servers.ts', import.meta.url));

export async function benchPageInstructions(): Promise<Record<string, number>> {
  requireCallgrind();
  buildPackages();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-callgrind-'));
  const server = underCallgrind(dir, 'server', ['--import', 'tsx', SERVERS, 'sy-bare']);
  try {
    const port = Number((await waitFor(server, /^READY (\d+)/, 'the server'))[1]);
    await getOneAtATime(port, PAGE_PATH, WARMUP);
    await getOneAtATime(port, HELLO_PATH, WARMUP * 10);
    const window = async (path: string, requests: number) => {
      const { counts, majorGcs } = await countWindow(dir, { server }, () => getOneAtATime(port, path, requests));
      return { perPage: (counts.server.total - counts.server.oneTime) / PAGES, oneTime: counts.server.oneTime / PAGES, majorGcs };
    };
    const batched = await window(PAGE_PATH, PAGES);
    const unbatched = await window(HELLO_PATH, PAGES * 10);
    return {
      warmup: WARMUP,
      pages: PAGES,
      batchedPerPage: Math.round(batched.perPage),
      unbatchedPerPage: Math.round(unbatched.perPage),
      ratio: unbatched.perPage / batched.perPage,
      // batched = a + 10b and unbatched / 10 = a + b: a request's own instructions and a call's.
      perCall: Math.round((batched.perPage - unbatched.perPage / 10) / 9),
      perRequest: Math.round((unbatched.perPage - batched.perPage) / 9),
      oneTimeLeftOutBatched: Math.round(batched.oneTime),
      oneTimeLeftOutUnbatched: Math.round(unbatched.oneTime),
      majorGcsInWindows: batched.majorGcs + unbatched.majorGcs,
    };
  } finally {
    server.child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchPageInstructions();
  mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
  writeFileSync(
    fileURLToPath(new URL('results/page-instructions.json', import.meta.url)),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  process.stdout.write(
    `S8 in instructions (callgrind, the server process alone, ${result.pages} pages each): batched ${k(result.batchedPerPage)} per page, ` +
      `unbatched ${k(result.unbatchedPerPage)} per page (10 requests): ${result.ratio.toFixed(2)}x; ` +
      `a request's own ${k(result.perRequest)}, a call's ${k(result.perCall)}; ` +
      `V8 compilation left out ${k(result.oneTimeLeftOutBatched)} / ${k(result.oneTimeLeftOutUnbatched)} per page, full GCs in the windows: ${result.majorGcsInWindows}\n`,
  );
}
