/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** How long to keep trying, in ms. @default 10000 */
  timeoutMs?: number;
  /** The pause between tries, in ms. @default 25 */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than `undefined` or `false`, and returns that.
 * A test awaits a state this way instead of sleeping for a guessed time. Past the deadline it
 * throws with `what` and the last value seen (or the last error thrown by `check`).
 * @example const line = await pollUntil('the drain log line', () => logs.find((l) => l.msg === 'draining'));
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | false | undefined | Promise<T | false | undefined>,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what}: not within ${timeoutMs} ms (last seen: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
