// An instance is ready when its /ready answers 200: the same signal the gateway routes by, never
// a line of its log.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 100;

/** Resolves true once `url`/ready answers 200, false if `child` exits first. */
export function readyAt(url: string): (child: ChildProcess) => Promise<boolean> {
  return async (child) => {
    while (child.exitCode === null && child.signalCode === null) {
      const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(
        (res) => (void res.body?.cancel(), res.status === 200),
        () => false,
      );
      if (ok) return true;
      await sleep(POLL_MS);
    }
    return false;
  };
}

/** Resolves true at the first line of `child` that contains `text` (a build tool's "done"). */
export function readyLine(text: string): (child: ChildProcess) => Promise<boolean> {
  return (child) =>
    new Promise((done) => {
      const seen = (chunk: Buffer) => {
        if (!chunk.toString('utf8').includes(text)) return;
        child.stdout?.off('data', seen);
        done(true);
      };
      child.stdout?.on('data', seen);
      child.once('exit', () => done(false));
    });
}
