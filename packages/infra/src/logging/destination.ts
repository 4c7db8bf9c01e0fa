import { writeSync } from 'node:fs';

/** Options of {@link LineDestination}. */
export interface LineDestinationOptions {
  /** Characters waiting beyond which they are written at once, not at the end of the turn. @default 1 MiB */
  maxPending?: number;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Every destination, written out once more at exit (one listener for all). */
const open = new Set<LineDestination>();
let exitHooked = false;

/**
 * Where a service's log lines go (stdout by default): the lines of one turn of the event loop are
 * written together, in one synchronous `write(2)` when the turn ends. One system call per turn
 * instead of one per line (pino's synchronous mode), and no backlog: pino's asynchronous
 * SonicBoom writes at most 16 KiB per call and measures its whole pending buffer on every line;
 * at a few tens of thousands of lines a second it fell behind here and its backlog grew by
 * hundreds of MB. Here a slow reader slows the service down instead (as synchronous logging
 * does), and nothing is lost at exit: lines still waiting are written then.
 */
export class LineDestination {
  private pending: string[] = [];
  private pendingLength = 0;
  private scheduled = false;
  private readonly maxPending: number;

  constructor(
    private readonly fd: number,
    options: LineDestinationOptions = {},
  ) {
    this.maxPending = options.maxPending ?? 1024 * 1024;
    open.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const destination of open) destination.flushSync();
      });
    }
  }

  write(line: string): boolean {
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength > this.maxPending) {
      this.flushSync();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushSync();
      });
    }
    return true;
  }

  /** pino's `logger.flush(callback)`: writes what waits, then calls back. */
  flush(callback?: (error?: Error) => void): void {
    try {
      this.flushSync();
      callback?.();
    } catch (error) {
      callback?.(error as Error);
    }
  }

  /** Writes every waiting line now. */
  flushSync(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    // Usually one write of the whole text, encoded by writeSync itself (no Buffer made here).
    let written = 0;
    try {
      written = writeSync(this.fd, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
    if (written === Buffer.byteLength(text)) return;
    // A partial write (a pipe's reader is behind): the rest from where it stopped.
    let data = Buffer.from(text).subarray(written);
    while (data.length > 0) {
      try {
        data = data.subarray(writeSync(this.fd, data));
      } catch (error) {
        // A full non-blocking pipe: wait for its reader.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        sleepSync(2);
      }
    }
  }
}
