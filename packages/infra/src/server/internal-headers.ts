import { SERVICE_CREDENTIAL_HEADER } from '../identity/service-identity.js';
import { BATCH_CALLS_HEADER } from './batch-calls.js';

/**
 * Headers only the mesh's own callers may send: a service's credential and the per-call context
 * of the mesh client. The gateway removes each of them from every outside request (the Caddyfile's
 * `request_header -<name>` lines, checked against this list by a test), so a leaked service key
 * does not work from outside and an outsider cannot set per-call deadlines, ids or keys.
 */
export const INTERNAL_HEADERS: readonly string[] = [SERVICE_CREDENTIAL_HEADER, BATCH_CALLS_HEADER];
