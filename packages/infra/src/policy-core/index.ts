// What every caller of the mesh decides alike, inside it (the service client) and outside it
// (@switchyard/client, in programs and browsers): no Node-only module is imported here.
export { fullJitterDelay, parseRetryAfter, type BackoffOptions } from './backoff.js';
export { meshClientError } from './client-error.js';
export { RETRYABLE_STATUSES, mayHaveRun, mayRetryStatus } from './retry-rules.js';
export { ERROR_CATALOG, type ErrorCode } from '../errors/catalog.js';
