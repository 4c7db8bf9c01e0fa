import { urlsOf, type TargetUrl } from '../config/url-list.js';
import type { CallSink } from '../policies/call-attempt.js';
import type { AttemptOutcome } from '../policies/call-outcome.js';
import { now } from '../policies/deadline.js';
import { classifyAttemptError } from './call-errors.js';

/** How long an instance that refused a connection is passed over before it is tried again. */
export const UNREACHABLE_SKIP_MS = 5_000;

/**
 * The endpoints of one target, one transport each (so one keep-alive agent per instance), taken
 * in turn: each attempt goes to the next one, so the instances share the calls evenly whatever
 * their answers. A retry goes to another endpoint than the one its call's previous attempt failed
 * at, since an instance that has just failed is the likeliest to fail again. An endpoint whose
 * connection could not be made ({@link unreachable}: refused, no such host) is passed over for
 * {@link UNREACHABLE_SKIP_MS}, then takes its turns again; while every endpoint is passed over,
 * the turn goes on over all of them.
 * @example
 * const endpoints = new Endpoints(['http://auth-1:4002', 'http://auth-2:4003'], (url) => new HttpTransport({ url, maxBatchSize }));
 * const at = endpoints.next(); // 0, then 1, 0, 1...
 */
export class Endpoints<T> {
  /** The transports, in the order of the URLs. */
  readonly list: readonly T[];
  /** The only transport when there is one endpoint: callers take it without choosing. */
  readonly only: T | undefined;
  /** The index the next attempt goes to. */
  private turn = 0;
  /** Per endpoint, until when it is passed over (0: not). */
  private readonly skipUntil: number[];
  /** Refusals by one instance while another was still tried (see {@link watch}). */
  private readonly elsewhere = new WeakSet<object>();

  /** Throws at construction when `url` is an empty list. */
  constructor(url: TargetUrl, make: (url: string) => T) {
    const urls = urlsOf(url);
    if (urls.length === 0) throw new TypeError('a target needs at least one URL (the `url` option is an empty list)');
    this.list = urls.map(make);
    this.only = this.list.length === 1 ? this.list[0] : undefined;
    this.skipUntil = this.list.map(() => 0);
  }

  /**
   * `sink`, the endpoint at `index` first marked {@link unreachable} when the attempt was never
   * sent; while another endpoint is still tried, {@link classify} says so of that error.
   */
  watch(index: number, sink: CallSink): CallSink {
    return {
      resolve: (value) => sink.resolve(value),
      reject: (error) => {
        if (classifyAttemptError(error).kind === 'not-sent') {
          this.unreachable(index);
          if (this.reachable(index) !== index && error instanceof Object) this.elsewhere.add(error);
        }
        sink.reject(error);
      },
    };
  }

  /** {@link classifyAttemptError}, with `elsewhere` on an instance's refusal that others can take over. */
  readonly classify = (error: unknown): AttemptOutcome =>
    this.elsewhere.has(error as object) ? { kind: 'not-sent', elsewhere: true } : classifyAttemptError(error);

  /** Marks the endpoint at `index` as one whose connection could not be made. */
  unreachable(index: number): void {
    if (this.only === undefined) this.skipUntil[index] = now() + UNREACHABLE_SKIP_MS;
  }

  /**
   * The index of the endpoint an attempt goes to. A call's first attempt (`failed` = -1) takes
   * the next in turn. A retry takes the endpoint after `failed` (where its previous attempt
   * failed) and leaves the turn as it is, so first attempts stay evenly spread: were retries to
   * take turns, every call after a failing one would start at the failing instance.
   */
  next(failed = -1): number {
    const n = this.list.length;
    if (failed >= 0) return this.reachable(failed + 1 === n ? 0 : failed + 1);
    const at = this.reachable(this.turn);
    this.turn = at + 1 === n ? 0 : at + 1;
    return at;
  }

  /** `from`, or the first endpoint after it that is not passed over (`from` when all are). */
  private reachable(from: number): number {
    const { skipUntil } = this;
    if (skipUntil[from] === 0) return from;
    const n = skipUntil.length;
    const at = now();
    for (let i = from, k = 0; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      if (skipUntil[i]! <= at) {
        skipUntil[i] = 0;
        return i;
      }
    }
    return from;
  }
}
