export { METRIC, UNKNOWN_PROCEDURE } from './names.js';
export { createMetrics, type CallOutcome, type CreateMetricsOptions, type ServiceMetrics } from './metrics.js';
export { startMetricsServer, type MetricsServer } from './metrics-server.js';
