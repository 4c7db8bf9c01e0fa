import { MAX_TIMEOUT_MS } from '@switchyard/api-contracts';
import { now } from './deadline.js';

/**
 * Per-attempt timeouts without a Node timer per attempt: attempts with the same timeout expire in
 * the order they started, so each distinct timeout keeps a FIFO list of its attempts and one Node
 * timer for the list's head (Node's own timer lists, with the attempt as the list node instead of
 * a Timeout object and a closure per attempt). Timeouts are rounded up to whole milliseconds, and
 * above 128 ms to steps of at most 1/64 of their value (so nearby budgets share a list). Settling
 * an attempt unlinks it in O(1); a list's timer stays armed when the list empties (calls made one
 * after another reuse it) and, when it fires, expires what is due and re-arms for the next attempt
 * or lets the empty list go. The timers are unref'd: an attempt's socket keeps the process alive.
 */
export interface TimedNode {
  /** @internal */ timedPrev: TimedNode | undefined;
  /** @internal */ timedNext: TimedNode | undefined;
  /** @internal */ timedList: TimerList | undefined;
  /** @internal */ expiresAt: number;

  /** Called once when the node's time is up (it has left its list). */
  expire(): void;
}

class TimerList {
  head: TimedNode | undefined = undefined;
  tail: TimedNode | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly owner: AttemptTimers,
    readonly ms: number,
  ) {}
}

export class AttemptTimers {
  private readonly lists = new Map<number, TimerList>();
  /**
   * The last timeout asked for and its list: calls bound by the same timeout (the usual case: the
   * contract's, when no inbound deadline is shorter) skip the rounding and the map lookup.
   */
  private lastMs = NaN;
  private lastList: TimerList | undefined = undefined;

  constructor(private readonly clock: () => number = now) {}

  /**
   * Expires `node` after `ms` (rounded up to whole milliseconds, at least 1) unless it is removed
   * first. `at`: the clock's time now, when the caller has just read it.
   */
  add(node: TimedNode, ms: number, at: number = this.clock()): void {
    let list = ms === this.lastMs ? this.lastList : undefined;
    if (!list) {
      const whole = roundUp(ms);
      list = this.lists.get(whole);
      if (!list) {
        list = new TimerList(this, whole);
        this.lists.set(whole, list);
      }
      this.lastMs = ms;
      this.lastList = list;
    }
    const whole = list.ms;
    node.expiresAt = at + whole;
    node.timedList = list;
    node.timedPrev = list.tail;
    node.timedNext = undefined;
    if (list.tail) list.tail.timedNext = node;
    else list.head = node;
    list.tail = node;
    if (!list.timer) this.arm(list, whole);
  }

  /** Stops `node`'s timeout (no-op when it has none). */
  remove(node: TimedNode): void {
    const list = node.timedList;
    if (list) this.unlink(list, node);
  }

  private unlink(list: TimerList, node: TimedNode): void {
    if (node.timedPrev) node.timedPrev.timedNext = node.timedNext;
    else list.head = node.timedNext;
    if (node.timedNext) node.timedNext.timedPrev = node.timedPrev;
    else list.tail = node.timedPrev;
    node.timedPrev = node.timedNext = node.timedList = undefined;
  }

  /** A rounded timeout may pass what a Node timer holds: the timer then fires early and re-arms for the rest. */
  private arm(list: TimerList, delayMs: number): void {
    list.timer = setTimeout(() => this.fire(list), Math.min(delayMs, MAX_TIMEOUT_MS)).unref();
  }

  private fire(list: TimerList): void {
    list.timer = undefined;
    const at = this.clock();
    // Expire every node whose time is up (a timer may fire a little early or late).
    let node = list.head;
    const due: TimedNode[] = [];
    while (node && node.expiresAt <= at + 0.5) {
      const next = node.timedNext;
      this.unlink(list, node);
      due.push(node);
      node = next;
    }
    if (list.head) this.arm(list, Math.max(1, Math.ceil(list.head.expiresAt - at)));
    else {
      this.lists.delete(list.ms);
      if (this.lastList === list) this.lastList = undefined;
    }
    for (const expired of due) expired.expire();
  }
}

/** A timeout as its list keeps it: whole ms, and above 128 ms a step of at most 1/64 of it. */
function roundUp(ms: number): number {
  if (!(ms > 1)) return 1;
  if (ms <= 128) return Math.ceil(ms);
  // The largest power of two <= ms / 64 (integer bit arithmetic below 2^31: no Math.log2/pow per attempt).
  const step = ms < 2 ** 31 ? 1 << (31 - Math.clz32(ms / 64)) : 2 ** Math.floor(Math.log2(ms / 64));
  return Math.ceil(ms / step) * step;
}
