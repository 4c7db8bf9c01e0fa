#!/usr/bin/env node
// The test command (`npm test`): brings up what the tests need, type-checks, runs every test
// against real parts, and ends with one line `tests: N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = `${ROOT}.test-results/vitest.json`;
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
 * Makes sure a binary the tests start is installed: on Debian as root it is installed with
 * apt-get; anywhere else the run stops at once with the line that installs it.
 */
function ensureBinary(binary, debianPackage) {
  if (has(binary)) return;
  const isRoot = process.getuid?.() === 0;
  if (isRoot && has('apt-get')) {
    console.log(`${binary} is missing: installing Debian's ${debianPackage}`);
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : update;
    if (install.status === 0 && has(binary)) return;
  }
  console.error(`${binary} is required by the tests. Install it with: apt-get install -y ${debianPackage}`);
  console.log('\ntests: 0 passed, 1 failed (missing prerequisite)');
  process.exit(1);
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`Node ${process.versions.node} is too old: Switchyard needs Node 20 or newer.`);
  process.exit(1);
}

step('Binaries the tests start');
ensureBinary('redis-server', 'redis-server');
console.log('redis-server: each test that needs Redis starts its own on a free port (the shared one is never touched).');

step('PostgreSQL');
if (process.env.TEST_DATABASE === 'pglite') {
  console.log('TEST_DATABASE=pglite: every test database is an embedded PGlite.');
} else if (await portAnswers(5432)) {
  console.log('A PostgreSQL server answers on 127.0.0.1:5432: each test run gets its own fresh database there.');
} else {
  console.log('No PostgreSQL server on 127.0.0.1:5432: tests use the embedded PGlite instead (same `pg` driver and SQL).');
}

step('Type check (turbo run typecheck)');
if (run('npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']) !== 0) {
  console.log('\ntests: 0 passed, 1 failed (the type check failed)');
  process.exit(1);
}

step('Tests (vitest)');
mkdirSync(`${ROOT}.test-results`, { recursive: true });
rmSync(RESULTS, { force: true });
const status = run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${RESULTS}`,
  ...process.argv.slice(2),
]);

let summary;
try {
  summary = JSON.parse(readFileSync(RESULTS, 'utf8'));
} catch {
  console.log('\ntests: 0 passed, 1 failed (vitest wrote no results)');
  process.exit(1);
}
const passed = summary.numPassedTests;
// A file that fails before any test runs (an import error) counts as one failure.
const brokenFiles = (summary.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
const failed = summary.numFailedTests + brokenFiles;
const skipped = (summary.numPendingTests ?? 0) + (summary.numTodoTests ?? 0);
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
