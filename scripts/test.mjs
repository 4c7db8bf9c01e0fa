#!/usr/bin/env node
// The test command (`npm test`): brings up what the tests need, type-checks, runs every test
// against real parts, and ends with one line `tests: N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUMMARY = `${ROOT}.test-results/summary.json`;
/** The test files (groups `unit` and `process`) that use a database: run a second time on PGlite when the first run had a server. */
const DATABASE_TESTS = ['apps/', 'packages/infra/src/db/', 'packages/infra/src/testing/'];
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };

function step(title) {
  process.stdout.write(`\n== ${title}\n`);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: 'inherit' });
  return result.status ?? 1;
}

function portAnswers(port, host = '127.0.0.1', timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function has(binary) {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure the binaries the tests start are installed ({ binary: debianPackage }): on Debian as
 * root the missing ones are installed with apt-get; anywhere else the run stops at once with the
 * line that installs them.
 */
function ensureBinaries(wanted) {
  const missing = Object.entries(wanted).filter(([binary]) => !has(binary));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  if (process.getuid?.() === 0 && has('apt-get')) {
    console.log(`missing: ${missing.map(([b]) => b).join(', ')}: installing Debian's ${packages.join(' ')}`);
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env: aptEnv });
    if (update.status === 0) {
      spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env: aptEnv });
    }
    if (missing.every(([binary]) => has(binary))) return;
  }
  const still = missing.filter(([binary]) => !has(binary));
  console.error(
    `${still.map(([b]) => b).join(', ')} required by the tests. Install with: apt-get install -y ${[...new Set(still.map(([, p]) => p))].join(' ')}`,
  );
  console.log('\ntests: 0 passed, 1 failed (missing prerequisite)');
  process.exit(1);
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`Node ${process.versions.node} is too old: Switchyard needs Node 20 or newer.`);
  process.exit(1);
}

step('Binaries the tests start');
ensureBinaries({
  'redis-server': 'redis-server',
  caddy: 'caddy',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'docker-compose': 'docker-compose',
  chromium: 'chromium',
  wrk: 'wrk',
  'redis-benchmark': 'redis-tools',
  valgrind: 'valgrind',
  callgrind_control: 'valgrind',
});
console.log('redis-server: each test that needs Redis starts its own on a free port (the shared one is never touched).');
console.log(
  'caddy, prometheus: started by the end-to-end tests on free ports; promtool and docker-compose check deploy/ and docker-compose.yml;',
);
console.log("chromium (Debian's, never a download): driven by playwright-core in the web app's tests.");

step('PostgreSQL');
// The tests run on a real server when one answers, and their database tests once more on PGlite
// (the embedded default of `npm run dev`); TEST_DATABASE=postgres requires the server,
// TEST_DATABASE=pglite uses PGlite alone. Each run is told which one, so none falls back silently.
const pgUrl = new URL(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const pgAt = `${pgUrl.hostname}:${pgUrl.port || 5432}`;
const wanted = process.env.TEST_DATABASE;
const onServer = wanted !== 'pglite' && (await portAnswers(Number(pgUrl.port || 5432), pgUrl.hostname));
if (wanted === 'postgres' && !onServer) {
  console.error(
    `TEST_DATABASE=postgres, but no PostgreSQL server answers on ${pgAt}. Install one with: apt-get install -y postgresql`,
  );
  console.log('\ntests: 0 passed, 1 failed (no PostgreSQL server)');
  process.exit(1);
}
console.log(
  onServer
    ? `A PostgreSQL server answers on ${pgAt}: the tests run there (a fresh database each), then the database tests once more on PGlite.`
    : `No PostgreSQL server on ${pgAt}${wanted === 'pglite' ? ' asked for' : ''}: every test database is an embedded PGlite (same \`pg\` driver and SQL).`,
);

step('Type check (turbo run typecheck)');
if (run('npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']) !== 0) {
  console.log('\ntests: 0 passed, 1 failed (the type check failed)');
  process.exit(1);
}

/** Runs vitest with `args` on `database`: its exit status and its totals (see vitest-summary.mjs). */
function vitest(args, database, summary) {
  rmSync(summary, { force: true });
  const status = spawnSync(
    'npx',
    ['vitest', 'run', '--reporter=default', `--reporter=${ROOT}scripts/vitest-summary.mjs`, ...args],
    {
      cwd: ROOT,
      env: { ...env, SWITCHYARD_SUMMARY: summary, TEST_DATABASE: database },
      stdio: 'inherit',
    },
  ).status;
  try {
    return { status, totals: JSON.parse(readFileSync(summary, 'utf8')) };
  } catch {
    console.log('\ntests: 0 passed, 1 failed (vitest wrote no results)');
    process.exit(1);
  }
}

step('Tests (vitest)');
mkdirSync(`${ROOT}.test-results`, { recursive: true });
const args = process.argv.slice(2);
let { status, totals } = vitest(args, onServer ? 'postgres' : 'pglite', SUMMARY);
if (onServer && args.length === 0) {
  step('The database tests again, on PGlite');
  const again = vitest(['--project', 'unit', '--project', 'process', ...DATABASE_TESTS], 'pglite', `${SUMMARY}.pglite`);
  status ||= again.status;
  for (const key of ['passed', 'failed', 'broken', 'skipped', 'errors']) totals[key] += again.totals[key];
  totals.groups.pglite = Object.values(again.totals.groups).reduce((a, b) => a + b, 0);
}
for (const [group, seconds] of Object.entries(totals.groups)) console.log(`group ${group}: ${seconds} s`);
// A skipped test and an error outside any test fail the run as a failed test does: each is a
// claim the run did not check. A non-zero exit of vitest with none of these is one failure more.
const notes = [];
if (totals.broken) notes.push(`${totals.broken} suites failed outside their tests`);
if (totals.skipped) notes.push(`${totals.skipped} skipped`);
if (totals.errors) notes.push(`${totals.errors} errors outside tests`);
let failed = totals.failed + totals.broken + totals.skipped + totals.errors;
if (status !== 0 && failed === 0) {
  failed = 1;
  notes.push(`vitest exited with ${status}`);
}
console.log(`\ntests: ${totals.passed} passed, ${failed} failed${notes.length ? ` (${notes.join(', ')})` : ''}`);
process.exit(failed > 0 || totals.passed === 0 ? 1 : 0);
