export {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyStore,
  type IdempotencyStoreOptions,
  type IdempotentCall,
} from './idempotency-store.js';
