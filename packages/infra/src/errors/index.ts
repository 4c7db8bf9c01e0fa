export { ERROR_CATALOG, errorCodeForTrpc, type ErrorCode } from './catalog.js';
export { SwitchyardError, invalidField, type SwitchyardErrorOptions } from './switchyard-error.js';
