// `npm run bench`: every benchmark here, one after another (`-- --quick` for a few seconds each).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
for (const script of ['jwt-verify.ts', 'inter-service.ts']) {
  process.stdout.write(`\n== ${script}\n`);
  const run = spawnSync(
    process.execPath,
    ['--conditions=@switchyard/source', '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
