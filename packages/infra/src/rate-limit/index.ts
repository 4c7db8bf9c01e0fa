export { RateLimiter, type DegradedMode, type RateLimitDecision, type RateLimiterOptions } from './rate-limiter.js';
