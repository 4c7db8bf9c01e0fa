import { CallRejectedError } from '../policies/call-outcome.js';

/**
 * The call's outcome, or a rejection as soon as the caller's signal fires. The HTTP request
 * itself may carry other calls of its batch, so it is not cut: its answer is dropped.
 */
export function untilAborted<T>(outcome: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return outcome;
  const aborted = () => new CallRejectedError('aborted', 'the caller aborted the call', { cause: signal.reason });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    outcome.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
