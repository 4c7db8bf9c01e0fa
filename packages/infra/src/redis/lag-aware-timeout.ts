/** Thrown by {@link lagAwareTimeout} when the work did not settle in time. */
export class RedisTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Settles like `work`, or rejects with {@link RedisTimeoutError} after `timeoutMs`. The verdict
 * waits for one more I/O poll after the timer: when this process was busy (a burst of requests
 * read in one poll), the reply may already be waiting in the socket, and a busy process must not
 * declare a healthy Redis failed. A frozen Redis still times out at `timeoutMs` (plus one poll).
 */
export function lagAwareTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const expire = () => {
      if (settled) return;
      settled = true;
      reject(new RedisTimeoutError(timeoutMs));
    };
    // Timers run before the poll phase; setImmediate runs after it.
    const timer = setTimeout(() => setImmediate(expire), timeoutMs);
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}
