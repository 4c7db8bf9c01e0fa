/** Options of {@link fullJitterDelay}. */
export interface BackoffOptions {
  /** The first retry's upper bound, in ms. */
  baseMs: number;
  /** No delay exceeds this, in ms. */
  capMs: number;
}

/**
 * "Full jitter" exponential backoff: a uniform random delay in `[0, min(cap, base * 2^attempt))`,
 * which spreads retries of many callers instead of synchronising them.
 * @param attempt 0 for the first retry.
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return random() * Math.min(options.capMs, options.baseMs * 2 ** attempt);
}

/**
 * The wait a `Retry-After` header asks for, in ms: delta-seconds or an HTTP date. Invalid or absent
 * gives `undefined`.
 */
export function parseRetryAfter(value: string | null | undefined, at: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d{1,6}$/.test(value.trim())) return Number(value.trim()) * 1000;
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - at);
}
