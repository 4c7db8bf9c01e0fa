import type { ChildProcess } from 'node:child_process';
import { pollUntil } from '@switchyard/infra/testing';

/** What a process that lost a race for its port prints (Caddy and Prometheus, both Go). */
const PORT_TAKEN = /address already in use/;

/** A process that could not bind a port chosen for it up front (someone took it meanwhile). */
class PortTakenError extends Error {}

/**
 * Waits until `answers` holds for a process just spawned. Rejects with its output when it exits
 * first (with {@link PortTakenError} when a port it was given was taken) or does not answer in time.
 */
export async function awaitAnswer(
  what: string,
  child: ChildProcess,
  answers: () => Promise<boolean>,
  options: { timeoutMs: number; output: () => string },
): Promise<void> {
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  let outcome: 'up' | 'exited';
  try {
    outcome = await pollUntil(what, async () => (gone() ? 'exited' : (await answers()) && 'up'), {
      timeoutMs: options.timeoutMs,
      intervalMs: 100,
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}:\n${options.output().slice(-4000)}`, { cause: err });
  }
  if (outcome === 'up') return;
  const output = options.output().slice(-4000);
  if (PORT_TAKEN.test(output)) throw new PortTakenError(`${what}: a port was taken:\n${output}`);
  throw new Error(`${what}: the process exited:\n${output}`);
}

/**
 * Runs `launch` with ports chosen up front, again with new ones when a port was taken between
 * choosing it and the process binding it (at most 5 times).
 */
export async function withFreshPorts<T>(launch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch();
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === 5) throw err;
    }
  }
}
