import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header that carries a request's id across the mesh. */
export const REQUEST_ID_HEADER = 'x-request-id';

const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

/** Whether `value` may be used as a request id (8-128 characters of `A-Z a-z 0-9 . _ : -`). */
export function isWellFormedRequestId(value: string): boolean {
  return WELL_FORMED.test(value);
}

/**
 * The request's id: the inbound `x-request-id` when it is well formed (8-128 characters of
 * `A-Z a-z 0-9 . _ : -`), else a new UUID. A bad inbound id is replaced, never echoed.
 */
export function requestIdOf(req: IncomingMessage): string {
  return inboundRequestId(req) ?? randomUUID();
}

/** The inbound `x-request-id` when it is well formed, else `undefined`. */
export function inboundRequestId(req: IncomingMessage): string | undefined {
  const inbound = req.headers[REQUEST_ID_HEADER];
  return typeof inbound === 'string' && isWellFormedRequestId(inbound) ? inbound : undefined;
}
