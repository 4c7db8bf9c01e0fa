/**
 * A bound on concurrent attempts with a bounded FIFO queue: cockatiel's bulkhead semantics, made
 * for the policies' fast path (taking a free slot is a counter, not a promise per attempt; a
 * queued attempt leaves the queue when it is cancelled).
 */
export class Bulkhead {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  /** Takes a slot when one is free. */
  tryAcquire(): boolean {
    if (this.active >= this.maxConcurrent) return false;
    this.active++;
    return true;
  }

  /**
   * Waits for a slot, in arrival order; resolves holding it. `undefined` when the queue is full.
   * Rejects with the reason, leaving the queue, when `cancellation` fires first.
   */
  wait(cancellation: { onCancel(listener: (reason: Error) => void): void }): Promise<void> | undefined {
    if (this.queue.length >= this.maxQueue) return undefined;
    return new Promise<void>((resolve, reject) => {
      const take = () => resolve();
      this.queue.push(take);
      cancellation.onCancel((reason) => {
        const at = this.queue.indexOf(take);
        if (at === -1) return; // already holds a slot: the attempt sees the cancellation
        this.queue.splice(at, 1);
        reject(reason);
      });
    });
  }

  /** Gives a slot back: to the first queued attempt, if any. */
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }
}
