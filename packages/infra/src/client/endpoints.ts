/** A target's address: one base URL, or the base URLs of each of its instances. */
export type TargetUrl = string | readonly string[];

/**
 * The endpoints of one target, one transport each (so one keep-alive agent per instance), taken
 * in turn: each attempt goes to the next one, so the instances share the calls evenly whatever
 * their answers. A retry goes to another endpoint than the one its call's previous attempt failed
 * at, since an instance that has just failed is the likeliest to fail again.
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

  /** Throws at construction when `url` is an empty list. */
  constructor(url: TargetUrl, make: (url: string) => T) {
    const urls = typeof url === 'string' ? [url] : url;
    if (urls.length === 0) throw new TypeError('a target needs at least one URL (the `url` option is an empty list)');
    this.list = urls.map(make);
    this.only = this.list.length === 1 ? this.list[0] : undefined;
  }

  /**
   * The index of the endpoint an attempt goes to. A call's first attempt (`failed` = -1) takes
   * the next in turn. A retry takes the endpoint after `failed` (where its previous attempt
   * failed) and leaves the turn as it is, so first attempts stay evenly spread: were retries to
   * take turns, every call after a failing one would start at the failing instance.
   */
  next(failed = -1): number {
    const n = this.list.length;
    if (failed >= 0) return failed + 1 === n ? 0 : failed + 1;
    const at = this.turn;
    this.turn = at + 1 === n ? 0 : at + 1;
    return at;
  }
}
