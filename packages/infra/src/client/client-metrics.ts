import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC } from '../metrics/names.js';
import {
  perCallCounter,
  perCallHistogram,
  type CountSeries,
  type ObserveSeries,
  type PerCallMetric,
} from '../metrics/per-call-metric.js';

/** The metrics of outbound calls, one set per registry. */
export interface ClientMetrics {
  /** Per call: labels target, procedure, code. */
  readonly requests: PerCallMetric<CountSeries>;
  /** Per call: labels target, procedure. */
  readonly duration: PerCallMetric<ObserveSeries>;
  readonly retries: Counter<'target' | 'procedure' | 'reason'>;
  readonly budgetExhausted: Counter<'target'>;
  readonly rejections: Counter<'target' | 'reason'>;
  readonly breakerState: Gauge<'target'>;
}

const byRegistry = new WeakMap<Registry, ClientMetrics>();

/** The client metrics registered in `registry` (created once per registry). */
export function clientMetrics(registry: Registry): ClientMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: ClientMetrics = {
    requests: perCallCounter({
      name: METRIC.clientRequests,
      help: 'Outbound calls by target service, procedure and result code.',
      labelNames: ['target', 'procedure', 'code'],
      registry,
    }),
    duration: perCallHistogram({
      name: METRIC.clientDuration,
      help: 'Outbound call duration in seconds, retries included.',
      labelNames: ['target', 'procedure'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry,
    }),
    retries: new Counter({
      name: METRIC.clientRetries,
      help: 'Retries of outbound calls by target, procedure and what failed.',
      labelNames: ['target', 'procedure', 'reason'],
      registers,
    }),
    budgetExhausted: new Counter({
      name: METRIC.clientRetryBudgetExhausted,
      help: 'Retries not made because the retry budget was spent.',
      labelNames: ['target'],
      registers,
    }),
    rejections: new Counter({
      name: METRIC.clientRejections,
      help: 'Outbound calls ended by the policies, by reason (circuit_open, bulkhead_full, deadline, outcome_unknown, unreachable).',
      labelNames: ['target', 'reason'],
      registers,
    }),
    breakerState: new Gauge({
      name: METRIC.circuitBreakerState,
      help: 'Circuit breaker state per target: 0 closed, 1 open, 2 half-open.',
      labelNames: ['target'],
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
