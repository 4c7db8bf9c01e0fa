/** A procedure as the policies see its calls (the same object for all its calls). */
export interface CallInfo {
  readonly procedure: string;
  /** Queries, and mutations the contract marks idempotent. */
  readonly idempotent: boolean;
  /** A call's own timeout, in ms (from the contract or the client's default). */
  readonly timeoutMs: number;
}

/** Told when an attempt is cancelled: a function, or an object (no closure per attempt). */
export type CancelListener = ((reason: Error) => void) | { cancelled(reason: Error): void };

/**
 * How an attempt learns it must stop: a lighter stand-in for an AbortSignal (an
 * AbortController and its EventTarget per attempt cost more than this). One listener at a time.
 */
export interface Cancellable {
  /** Calls `listener` when the attempt is cancelled (at once if it already was). */
  onCancel(listener: CancelListener): void;
}

/** Where an attempt's outcome goes: called once, by whoever makes the attempt. */
export interface CallSink {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Starts one attempt of a call: it must settle `sink` once, and reject it with the reason it is
 * given when `cancellation` fires. `budgetMs` is the time the attempt has (sent on as the deadline).
 */
export type StartAttempt = (cancellation: Cancellable, sink: CallSink, budgetMs: number) => void;

/** Tells `listener` its attempt is cancelled, with `reason`. */
export const tell = (listener: CancelListener, reason: Error) =>
  typeof listener === 'function' ? listener(reason) : listener.cancelled(reason);
