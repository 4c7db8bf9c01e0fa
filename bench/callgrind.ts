// Running node under valgrind's callgrind, for the benchmarks that count machine instructions
// instead of timing (policy-instructions.ts, page-instructions.ts): callgrind counts what a process
// executes, which repeats for the same binary, inputs and work, whatever else the machine does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

/** Throws, with the line that installs it, when valgrind's callgrind is missing. */
export function requireCallgrind(): void {
  if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control'], { stdio: 'ignore' }).status !== 0)
    throw new Error('valgrind is missing: apt-get install -y valgrind');
}

/**
 * The next line of `lines`, each in turn, the others kept. Not readline's async iterator: it
 * pauses its input past 1,024 unread lines, and a process's --trace-gc lines, never read, would
 * then fill its stdout pipe and stop it.
 */
export function lineReader(lines: Interface): () => Promise<string> {
  const queued: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  lines.on('line', (line) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(line);
    } else queued.push(line);
  });
  return () => (queued.length ? Promise.resolve(queued.shift()!) : new Promise((resolve) => (waiting = resolve)));
}

export interface Proc {
  child: ChildProcess;
  next: () => Promise<string>;
  /** Full (mark-compact) collections so far, from --trace-gc. */
  majorGcs: number;
  /** Rejects when the process exits. */
  exited: Promise<never>;
}

export function underCallgrind(dir: string, name: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${join(dir, `${name}.%p`)}`,
      '--quiet',
      // Start-up and the warm-up before the first measured window run uninstrumented (several
      // times faster under valgrind); the first window switches instrumentation on (countWindow).
      '--instr-atstart=no',
      process.execPath,
      // V8's predictable mode: no background compilation or GC threads, and a GC schedule that
      // depends on allocation alone, not on time (the counts would depend on scheduling).
      '--predictable',
      '--predictable-gc-schedule',
      // A full collection is one large cost at a point that depends on what came before: one in
      // a window of 2,000 calls added ~35,000 instructions to each. With a large old space none
      // happens in the window (counted from --trace-gc and printed); scavenges, which follow
      // what a call allocates, are counted.
      '--initial-old-space-size=1024',
      '--trace-gc',
      ...args,
    ],
    { env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`exited (${code ?? signal})`))),
  );
  exited.catch(() => undefined); // read by waitFor while the process is expected to run
  const proc: Proc = { child, next: lineReader(lines), majorGcs: 0, exited };
  lines.on('line', (line) => {
    if (/Mark-Compact|Mark-sweep/i.test(line)) proc.majorGcs++;
  });
  return proc;
}

export async function waitFor(proc: Proc, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  for (;;) {
    const line = await Promise.race([
      proc.next(),
      proc.exited.catch((error: Error) => Promise.reject(new Error(`${what} ${error.message}`))),
    ]);
    const match = pattern.exec(line);
    if (match) return match;
  }
}

export function control(pid: number, option: '-z' | '-d' | '--instr=on'): void {
  const result = spawnSync('callgrind_control', [option, String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`callgrind_control ${option} ${pid} failed: ${result.stderr}${result.stdout}`);
}

/**
 * V8's one-time work (compiling to bytecode, baseline and optimized code, deoptimizing): a cost
 * that a long-running process pays once, not per call, yet that still happens now and then after
 * any warm-up (in one window of 1,000 calls after 3,000 it was 37% of the caller's count).
 */
export const ONE_TIME =
  /^v8::internal::Runtime_(CompileOptimized|CompileLazy|CompileBaseline|InstallBaselineCode|NotifyDeoptimized|BytecodeBudgetInterrupt\w*)\(/;

/**
 * The instructions in a process's last dump (the one after the zero): all of them, and those of
 * {@link ONE_TIME} (the inclusive costs of the calls into it from outside it).
 */
export function dumped(dir: string, name: string, pid: number): { total: number; oneTime: number } {
  // Dumps triggered by callgrind_control are numbered NAME.PID.N; the highest is the last.
  const last = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.${pid}.`))
    .sort((a, b) => Number(a.split('.').at(-1)) - Number(b.split('.').at(-1)))
    .at(-1);
  if (!last) throw new Error(`no callgrind dump for ${name} ${pid} in ${dir}`);
  const text = readFileSync(join(dir, last), 'utf8');
  const summary = /^summary: (\d+)/m.exec(text);
  if (!summary) throw new Error(`no summary in ${last}`);
  // callgrind's format: `fn=(id) name` starts a function's lines, `cfn=(id) name` names the
  // function the next `calls=` line calls, and the line after that holds the call's inclusive cost.
  const names = new Map<string, string>();
  const named = (ref: string) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(ref)!;
    if (match[2] !== undefined) names.set(match[1]!, match[2]);
    return names.get(match[1]!) ?? '';
  };
  let inOneTime = false;
  let calleeOneTime = false;
  let callCost = false;
  let oneTime = 0;
  for (const line of text.split('\n')) {
    if (callCost) {
      callCost = false;
      if (calleeOneTime && !inOneTime) oneTime += Number(line.split(' ')[1]);
    } else if (line.startsWith('fn=')) inOneTime = ONE_TIME.test(named(line.slice(3)));
    else if (line.startsWith('cfn=')) calleeOneTime = ONE_TIME.test(named(line.slice(4)));
    else if (line.startsWith('calls=')) callCost = true;
  }
  return { total: Number(summary[1]), oneTime };
}

/**
 * A measured window: the counters of `procs` (by the name their dumps go under) zeroed, `work`
 * run, each dumped; their instructions in the window ({@link dumped}) and the full collections.
 */
export async function countWindow<Name extends string>(
  dir: string,
  procs: Record<Name, Proc>,
  work: () => Promise<void>,
): Promise<{ counts: Record<Name, { total: number; oneTime: number }>; majorGcs: number }> {
  const named = Object.entries(procs) as Array<[Name, Proc]>;
  const gcs = () => named.reduce((sum, [, proc]) => sum + proc.majorGcs, 0);
  for (const [, proc] of named) {
    control(proc.child.pid!, '--instr=on');
    control(proc.child.pid!, '-z');
  }
  const gcsBefore = gcs();
  await work();
  for (const [, proc] of named) control(proc.child.pid!, '-d');
  const counts = Object.fromEntries(named.map(([name, proc]) => [name, dumped(dir, name, proc.child.pid!)]));
  return { counts: counts as Record<Name, { total: number; oneTime: number }>, majorGcs: gcs() - gcsBefore };
}
