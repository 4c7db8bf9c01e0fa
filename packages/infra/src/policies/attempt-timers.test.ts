import { describe, expect, it } from 'vitest';
import { AttemptTimers, TimedNode } from './attempt-timers.js';

class Node extends TimedNode {
  firedAt: number | undefined;
  constructor(readonly name: string) {
    super();
  }
  expire(): void {
    this.firedAt = performance.now();
  }
}

describe('attempt timers', () => {
  it('expire each node at its own time (same and different timeouts), never a removed one', async () => {
    const timers = new AttemptTimers();
    const t0 = performance.now();
    const a = new Node('a');
    const b = new Node('b');
    const c = new Node('c');
    const gone = new Node('gone');
    const d = new Node('d');
    timers.add(a, 60);
    timers.add(gone, 60);
    timers.add(c, 20.3);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // A later node of the same timeout, after the head of its list was removed.
    timers.add(b, 60);
    timers.remove(gone);
    timers.remove(a);
    timers.add(d, 5);
    timers.remove(d);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(a.firedAt).toBeUndefined();
    expect(gone.firedAt).toBeUndefined();
    expect(d.firedAt).toBeUndefined();
    // c after ~21 ms, b ~60 ms after it was added (~90 ms): within 10% (a timer fires late, never early).
    expect(c.firedAt! - t0).toBeGreaterThanOrEqual(20.3);
    expect(c.firedAt! - t0).toBeLessThan(35);
    expect(b.firedAt! - t0).toBeGreaterThanOrEqual(89);
    expect(b.firedAt! - t0).toBeLessThan(110);
    // Removing a node that already fired, or twice, is harmless.
    timers.remove(b);
    timers.remove(a);
  });
});
