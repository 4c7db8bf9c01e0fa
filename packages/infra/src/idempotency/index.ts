export {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyStore,
  isWellFormedIdempotencyKey,
  type IdempotencyStoreOptions,
  type IdempotentCall,
} from './idempotency-store.js';
