// The dev runner's processes: each one's output under its name, its readiness, its restarts after
// a crash, and the one way the whole tree stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const say = (line: string) => process.stdout.write(`dev: ${line}\n`);

const children = new Set<ChildProcess>();
/** Children that began draining: a signal reached them already (turbo forwards Ctrl-C to the group). */
const draining = new WeakSet<ChildProcess>();
const onStop: Array<() => Promise<unknown>> = [];
let stopping = false;

/** A crashed service instance is started again after this wait, doubled per crash up to the cap (ms). */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 8_000;
/** An instance that ran this long before it crashed starts its waits again from the first (ms). */
const RESTART_RESET_MS = 30_000;
/** The lines of a process shown when it fails to start. */
const LAST_LINES = 30;

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Resolves true once this launch is ready (e.g. its /ready answers 200); unset, ready at once. */
  ready?: (child: ChildProcess) => Promise<boolean>;
  /** Restart after a crash (with a backoff) once it was ready; without it, a crash stops the mesh. */
  restart?: boolean;
  /** Lines not shown (still kept for a failure report). */
  hide?: (line: string) => boolean;
}

/**
 * Starts a process whose output lines are prefixed with its name. `started` resolves when its
 * first launch is ready. A process that exits before it was ever ready failed to start: its last
 * lines are shown under its name and the mesh stops, saying which one failed.
 */
export function run(name: string, command: string, args: string[], options: RunOptions): { started: Promise<void> } {
  const label = name.padEnd(10);
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((done) => (markStarted = done));
  let everReady = false;
  let waitMs = RESTART_FIRST_MS;
  let restarts = 0;
  const launch = () => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const launchedAt = Date.now();
    const last: string[] = [];
    children.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        if (line.includes('draining: readiness now fails')) draining.add(child);
        last.push(line);
        if (last.length > LAST_LINES) last.shift();
        if (!options.hide?.(line)) process.stdout.write(`${label}| ${line}\n`);
      });
    }
    void (options.ready ?? (() => Promise.resolve(true)))(child).then((ready) => {
      if (!ready || stopping) return;
      everReady = true;
      markStarted();
      if (restarts > 0) say(`${name} is back (restart ${restarts}, ${Date.now() - launchedAt} ms after its start)`);
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (stopping) return;
      // A terminal's Ctrl-C reaches the whole process group: a child can end by it before this
      // process handles its own SIGINT. That is the user stopping the mesh, not a failure.
      if (signal === 'SIGINT' || signal === 'SIGTERM') return void stop(0);
      if (!everReady) {
        say(`${name} failed to start (${code ?? signal}); its last lines:`);
        for (const line of last) process.stdout.write(`${label}! ${line}\n`);
        say(`${name} failed to start: stopping the mesh`);
        return void stop(1);
      }
      if (!options.restart) {
        say(`${name} exited (${code ?? signal}): stopping the mesh`);
        return void stop(1);
      }
      if (Date.now() - launchedAt >= RESTART_RESET_MS) waitMs = RESTART_FIRST_MS;
      say(`${name} exited (${code ?? signal}): starting it again in ${waitMs} ms; the rest keep running`);
      setTimeout(() => {
        if (stopping) return;
        restarts++;
        launch();
      }, waitMs);
      waitMs = Math.min(waitMs * 2, RESTART_MAX_MS);
    });
  };
  launch();
  return { started };
}

/** Runs `close` after every process exited, when the mesh stops. */
export const closeOnStop = (close: () => Promise<unknown>) => void onStop.push(close);

export const isStopping = () => stopping;

/** How long after SIGTERM a process that has not exited is killed. */
const STUCK_AFTER_MS = 15_000;

export async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  const exited = Promise.all([...children].map((child) => new Promise((done) => child.once('exit', done))));
  // A terminal's Ctrl-C reaches every process of the group; a second signal would cut a drain
  // short. So only the processes that did not begin draining (or exit) get SIGTERM.
  await Promise.race([exited, new Promise((done) => setTimeout(done, 500))]);
  for (const child of children) if (!draining.has(child)) child.kill('SIGTERM');
  // A service exits by its own hard deadline (SHUTDOWN_TIMEOUT_MS, 10 s by default); one that
  // has not a few seconds later is stuck, and is killed so that the runner still ends.
  const stuck = setTimeout(() => {
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      say(`pid ${child.pid} did not exit after SIGTERM: SIGKILL`);
      child.kill('SIGKILL');
    }
  }, STUCK_AFTER_MS);
  await exited;
  clearTimeout(stuck);
  for (const close of onStop) await close().catch(() => undefined);
  process.exit(code);
}
