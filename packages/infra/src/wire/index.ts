export { decodeCalls, encodeCalls, type CallEntry, type CallFields } from './calls-header.js';
export {
  CALLS_HEADER,
  DEADLINE_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  INTERNAL_HEADERS,
  REQUEST_ID_HEADER,
  SERVICE_CREDENTIAL_HEADER,
} from './headers.js';
export { ID_RULE, isWellFormedId } from './ids.js';
