import { performance } from 'node:perf_hooks';

export { DEADLINE_HEADER } from '../wire/index.js';

/** The largest budget a caller may ask for, in ms: a bigger header is capped to it. */
export const MAX_DEADLINE_MS = 300_000;

/**
 * The monotonic clock deadlines are measured on, in ms. `performance` from node:perf_hooks: the
 * global one is a lazy getter that Node resolves on every read (a getter call and a slow property
 * lookup each time), and the clock is read on every call and request.
 */
export const now = (): number => performance.now();

/**
 * The budget an inbound `x-deadline-ms` header gives, in ms: a whole number from 0 to
 * {@link MAX_DEADLINE_MS} (larger is capped). Anything else is ignored (`undefined`).
 */
export function parseDeadlineHeader(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DEADLINE_MS);
}

/** The ms left until `deadlineAt` (on {@link now}'s clock), never negative. */
export function remainingMs(deadlineAt: number, at: number = now()): number {
  return Math.max(0, deadlineAt - at);
}
