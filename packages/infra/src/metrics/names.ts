/** Every metric name the mesh defines, in one place. Prometheus conventions: base units, `_total`. */
export const METRIC = {
  rpcRequests: 'switchyard_rpc_requests_total',
  rpcDuration: 'switchyard_rpc_duration_seconds',
  rpcErrors: 'switchyard_rpc_errors_total',
  rpcInFlight: 'switchyard_rpc_in_flight',
  httpRejected: 'switchyard_http_rejected_total',
  serviceReady: 'switchyard_service_ready',
  clientRequests: 'switchyard_client_requests_total',
  clientDuration: 'switchyard_client_duration_seconds',
  clientRetries: 'switchyard_client_retries_total',
  clientRetryBudgetExhausted: 'switchyard_client_retry_budget_exhausted_total',
  clientRejections: 'switchyard_client_rejections_total',
  circuitBreakerState: 'switchyard_circuit_breaker_state',
  redisCommandDuration: 'switchyard_redis_command_duration_seconds',
  redisCommandErrors: 'switchyard_redis_command_errors_total',
  redisConnectionUp: 'switchyard_redis_connection_up',
  redisHealthy: 'switchyard_redis_healthy',
  redisSkipped: 'switchyard_redis_skipped_total',
  rateLimited: 'switchyard_ratelimit_rejected_total',
  rateLimitDegraded: 'switchyard_ratelimit_degraded_total',
  cacheRequests: 'switchyard_cache_requests_total',
  idempotencyReplays: 'switchyard_idempotency_replays_total',
  eventsHandled: 'switchyard_events_handled_total',
  eventsFailed: 'switchyard_events_failed_total',
  eventsDeadLettered: 'switchyard_events_dead_lettered_total',
  eventsLag: 'switchyard_events_lag',
  eventsPending: 'switchyard_events_pending',
  eventsUnpublished: 'switchyard_events_unpublished_total',
  eventsGroupRecreated: 'switchyard_events_group_recreated_total',
} as const;

/** The procedure label for any path that is not one of the router's procedures. */
export const UNKNOWN_PROCEDURE = '__unknown__';
