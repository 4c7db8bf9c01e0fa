import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request id of a request that tRPC refuses before it has a context (a method, content type
 * or batch it does not take): the server adapter runs tRPC's own handler inside it, so that the
 * error formatter puts the id in every error body, not only in the ones of a procedure.
 */
export const requestIdScope = new AsyncLocalStorage<string | undefined>();
