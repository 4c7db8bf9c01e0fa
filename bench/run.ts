// `npm run bench`: every benchmark here, one after another (`-- --quick` for a few seconds each).
//   http.ts          S1 raw node:http, S3 stock tRPC adapters, S-bare, S5 full stack + ablations, S8
//   hops.ts          S6 Caddy hop and Caddy -> 3 instances, the inter-service hop with and without
//                    policies, the policy engine's own cost (policy-engine.ts)
//   mesh.ts          S9 Redis limiter vs redis-benchmark, idle RSS of each service
//   inter-service.ts S7 a call through the contract client with and without its policy stack
//   policy-instructions.ts  the same call's machine instructions with and without the policy stack
//                    (valgrind's callgrind: repeatable where timings on a shared VM spread by +-5-10%)
//   page-instructions.ts  S8 in machine instructions: a batched page against the unbatched one
//   jwt-verify.ts    S10 micro-benchmark: jose verify per algorithm
// Each prints its table; http.ts and mesh.ts also write JSON to bench/results/.
// hops.ts, inter-service.ts and policy-instructions.ts import compiled packages statically, so run
// alone on a fresh clone they need `npm run build` first; this runner builds before any of them.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildPackages } from './shared.js';

const args = process.argv.slice(2);
buildPackages();
for (const script of [
  'http.ts',
  'hops.ts',
  'mesh.ts',
  'inter-service.ts',
  'policy-instructions.ts',
  'page-instructions.ts',
  'jwt-verify.ts',
]) {
  process.stdout.write(`\n== ${script}\n`);
  // http.ts, hops.ts, inter-service.ts and the instruction counts run the compiled packages (as production does); the others run from source.
  const conditions = script === 'jwt-verify.ts' || script === 'mesh.ts' ? ['--conditions=@switchyard/source'] : [];
  const run = spawnSync(
    process.execPath,
    [...conditions, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args],
    {
      stdio: 'inherit',
    },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
