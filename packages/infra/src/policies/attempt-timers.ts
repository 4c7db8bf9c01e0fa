/**
 * Per-attempt timeouts without a Node timer per attempt: attempts with the same whole-millisecond
 * timeout expire in the order they started, so each distinct timeout keeps a FIFO list of its
 * attempts and one Node timer for the list's head (Node's own timer lists, with the attempt as
 * the list node instead of a Timeout object and a closure per attempt). Settling an attempt
 * unlinks it in O(1); a timer that fires for an attempt already gone re-arms for the next one.
 */
export abstract class TimedNode {
  /** @internal */ timedPrev: TimedNode | undefined = undefined;
  /** @internal */ timedNext: TimedNode | undefined = undefined;
  /** @internal */ timedList: TimerList | undefined = undefined;
  /** @internal */ expiresAt = 0;

  /** Called once when the node's time is up (it has left its list). */
  abstract expire(): void;
}

class TimerList {
  head: TimedNode | undefined = undefined;
  tail: TimedNode | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** When the armed timer fires. */
  armedFor = 0;

  constructor(
    readonly owner: AttemptTimers,
    readonly ms: number,
  ) {}
}

export class AttemptTimers {
  private readonly lists = new Map<number, TimerList>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Expires `node` after `ms` (rounded up to whole milliseconds, at least 1) unless it is removed first. */
  add(node: TimedNode, ms: number): void {
    const whole = Math.max(1, Math.ceil(ms));
    let list = this.lists.get(whole);
    if (!list) {
      list = new TimerList(this, whole);
      this.lists.set(whole, list);
    }
    node.expiresAt = this.clock() + whole;
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
    if (!list) return;
    this.unlink(list, node);
    if (!list.head) this.drop(list);
  }

  private unlink(list: TimerList, node: TimedNode): void {
    if (node.timedPrev) node.timedPrev.timedNext = node.timedNext;
    else list.head = node.timedNext;
    if (node.timedNext) node.timedNext.timedPrev = node.timedPrev;
    else list.tail = node.timedPrev;
    node.timedPrev = node.timedNext = node.timedList = undefined;
  }

  /** An empty list goes, with its timer. */
  private drop(list: TimerList): void {
    clearTimeout(list.timer);
    list.timer = undefined;
    this.lists.delete(list.ms);
  }

  private arm(list: TimerList, delayMs: number): void {
    list.armedFor = this.clock() + delayMs;
    list.timer = setTimeout(() => this.fire(list), delayMs);
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
    else this.lists.delete(list.ms);
    for (const expired of due) expired.expire();
  }
}
