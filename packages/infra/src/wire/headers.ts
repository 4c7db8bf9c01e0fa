/** A request's id across the mesh. */
export const REQUEST_ID_HEADER = 'x-request-id';
/** The caller's remaining budget, in whole milliseconds. */
export const DEADLINE_HEADER = 'x-deadline-ms';
/** Makes a mutation run once per caller and key. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** A service's credential: `<service>.<key>`. */
export const SERVICE_CREDENTIAL_HEADER = 'x-service-credential';
/** Each call's own request id, budget, trace and idempotency key (see calls-header.ts). */
export const CALLS_HEADER = 'x-switchyard-calls';

/**
 * Headers only the mesh's own callers may send: a service's credential and the per-call context
 * of the mesh client. The gateway removes each of them from every outside request (the Caddyfile's
 * `request_header -<name>` lines, checked against this list by a test), so a leaked service key
 * does not work from outside and an outsider cannot set per-call deadlines, ids or keys.
 */
export const INTERNAL_HEADERS: readonly string[] = [SERVICE_CREDENTIAL_HEADER, CALLS_HEADER];
