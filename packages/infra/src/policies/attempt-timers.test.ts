import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMEOUT_MS } from '@switchyard/api-contracts';
import { AttemptTimers, type TimedNode } from './attempt-timers.js';

class Node implements TimedNode {
  timedPrev: TimedNode | undefined = undefined;
  timedNext: TimedNode | undefined = undefined;
  timedList: TimedNode['timedList'] = undefined;
  expiresAt = 0;
  firedAt: number | undefined;
  constructor(
    readonly name: string,
    private readonly clock: () => number = () => performance.now(),
  ) {}
  expire(): void {
    this.firedAt = this.clock();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('attempt timers', () => {
  it('expire each node at its own time (same and different timeouts), never a removed one', () => {
    // Fake timers and a fake clock: the times are exact, whatever the machine's load.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const clock = () => Date.now();
    const timers = new AttemptTimers(clock);
    const [a, b, c, gone, d] = ['a', 'b', 'c', 'gone', 'd'].map((name) => new Node(name, clock)) as [
      Node,
      Node,
      Node,
      Node,
      Node,
    ];
    timers.add(a, 60);
    timers.add(gone, 60);
    timers.add(c, 20.3);
    vi.advanceTimersByTime(30);
    // A later node of the same timeout, after the head of its list was removed.
    timers.add(b, 60);
    timers.remove(gone);
    timers.remove(a);
    timers.add(d, 5);
    timers.remove(d);
    vi.advanceTimersByTime(120);
    expect(a.firedAt).toBeUndefined();
    expect(gone.firedAt).toBeUndefined();
    expect(d.firedAt).toBeUndefined();
    // c at 21 ms (20.3 rounded up), b 60 ms after it was added at 30 ms: its list's timer, armed
    // for the removed head's 60 ms, re-arms for the rest.
    expect(c.firedAt).toBe(21);
    expect(b.firedAt).toBe(90);
    // Removing a node that already fired, or twice, is harmless.
    timers.remove(b);
    timers.remove(a);
  });

  it('rounds a timeout up to whole ms, and above 128 ms to a step of at most 1/64 of it', () => {
    const timers = new AttemptTimers(() => 0);
    const expiry = (ms: number) => {
      const node = new Node(String(ms));
      timers.add(node, ms, 0);
      timers.remove(node);
      return node.expiresAt;
    };
    expect(expiry(0.2)).toBe(1);
    expect(expiry(20.3)).toBe(21);
    expect(expiry(128)).toBe(128);
    // 1000.5 / 64 = 15.6: steps of 8 ms.
    expect(expiry(1000.5)).toBe(1008);
    expect(expiry(5000)).toBe(5056);
    for (const ms of [129, 191.5, 256, 4095, 65_537.25, 999_999_999]) {
      const rounded = expiry(ms);
      expect(rounded).toBeGreaterThanOrEqual(ms);
      expect(rounded - ms).toBeLessThan(ms / 64);
      // Nearby timeouts share a list: the step is a power of two of at least 1/128 of the timeout.
      const step = 2 ** Math.floor(Math.log2(ms / 64));
      expect(rounded % step).toBe(0);
    }
  });

  it('times the longest timeout Node allows without overflowing its timer (no early wake-ups, no warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const timers = new AttemptTimers();
    const node = new Node('long');
    // 2^31-1 ms rounds up to 2^31 (steps of 2^24): more than a Node timer holds.
    timers.add(node, MAX_TIMEOUT_MS);
    // Real timers and a real wait: an overflowing Node timer would fire after 1 ms and warn, and
    // the absence of both is what is tested.
    await new Promise((resolve) => setTimeout(resolve, 50));
    timers.remove(node);
    process.off('warning', onWarning);
    expect(node.firedAt).toBeUndefined();
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
