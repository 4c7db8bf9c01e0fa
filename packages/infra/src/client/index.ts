export { type TargetUrl } from '../config/url-list.js';
export { classifyAttemptError, policyClientError } from './call-errors.js';
export { clientMetrics, type ClientMetrics } from './client-metrics.js';
export { isUnavailable, withFallback } from './fallback.js';
export { createServiceClient } from './service-client.js';
export {
  type BreakerStateName,
  type CallContext,
  type CreateServiceClientOptions,
  type ServiceClient,
} from './service-client-types.js';
