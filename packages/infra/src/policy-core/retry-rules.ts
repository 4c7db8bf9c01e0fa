/**
 * When a failed call may be made again, for every caller of the mesh (the service client inside
 * it, @switchyard/client outside it). Statuses a later attempt can pass: 429 (refused before
 * any handler ran: any call may repeat it once the wait is over), and 502, 503 and 504 (an
 * instance down, draining or too slow: only a call safe to repeat).
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Whether an answered call with this status may be made again. */
export function mayRetryStatus(status: number, idempotent: boolean): boolean {
  return status === 429 || (idempotent && RETRYABLE_STATUSES.has(status));
}

/**
 * Whether a failure may have run the call: a gateway's own 502 or 504 (no error body from the
 * service: the instance failed or hung up after the request reached it), or a connection lost
 * after the request was sent. A mutation that may have run is never repeated: its caller learns
 * `OUTCOME_UNKNOWN`.
 */
export function mayHaveRun(failure: { status: number | undefined; fromService: boolean; sent: boolean }): boolean {
  if (failure.fromService) return false;
  if (failure.status === 502 || failure.status === 504) return true;
  return failure.status === undefined && failure.sent;
}
