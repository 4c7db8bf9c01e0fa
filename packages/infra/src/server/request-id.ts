import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { REQUEST_ID_HEADER, isWellFormedId } from '../wire/index.js';

export { REQUEST_ID_HEADER };

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
  return typeof inbound === 'string' && isWellFormedId(inbound) ? inbound : undefined;
}
