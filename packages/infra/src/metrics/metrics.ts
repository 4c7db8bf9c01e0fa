import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC, UNKNOWN_PROCEDURE } from './names.js';
import { perCallCounter, perCallGauge, perCallHistogram } from './per-call-metric.js';

/** Options of {@link createMetrics}. */
export interface CreateMetricsOptions {
  /** The service name: a default label on every series. */
  service: string;
  /** The procedures that may appear as label values; any other path becomes `__unknown__`. */
  procedures: readonly string[];
  /** Collect Node's process metrics (heap, event loop lag, GC). @default true */
  processMetrics?: boolean;
  /** The per-call series in the engine's lean metrics rather than prom-client's classes. @default bypassOn('leanMetrics') */
  lean?: boolean;
}

/** The outcome of one procedure call, as RED metrics record it. */
export interface CallOutcome {
  procedure: string;
  type: string;
  /** `OK` or the tRPC error code. */
  code: string;
  durationSeconds: number;
}

/** A process's metrics: its own registry and the RED series for procedure calls. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Records one finished procedure call; unknown procedure names collapse to one label value. */
  recordCall(outcome: CallOutcome): void;
  /** Marks a call started; returns the function that marks it done. */
  trackInFlight(procedure: string): () => void;
  /** Counts a request the HTTP layer refused before any procedure ran. */
  recordRejected(reason: 'body_too_large' | 'header_too_large' | 'not_found' | 'draining'): void;
  setReady(ready: boolean): void;
  /** The label value for a path: the path itself when it is a known procedure. */
  procedureLabel(path: string | undefined): string;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Creates a registry per process with RED metrics per procedure, bounded labels.
 * @example const metrics = createMetrics({ service: 'notes', procedures: Object.keys(notesContract) });
 */
export function createMetrics(options: CreateMetricsOptions): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const known = new Set(options.procedures);
  const procedureLabel = (path: string | undefined) => (path !== undefined && known.has(path) ? path : UNKNOWN_PROCEDURE);

  const perCall = { registry, lean: options.lean };
  const requests = perCallCounter({
    ...perCall,
    name: METRIC.rpcRequests,
    help: 'Procedure calls by procedure, type and result code (OK or the tRPC error code).',
    labelNames: ['procedure', 'type', 'code'],
  });
  const duration = perCallHistogram({
    ...perCall,
    name: METRIC.rpcDuration,
    help: 'Procedure call duration in seconds.',
    labelNames: ['procedure', 'type'],
    buckets: DURATION_BUCKETS,
  });
  const errors = perCallCounter({
    ...perCall,
    name: METRIC.rpcErrors,
    help: 'Failed procedure calls by procedure and tRPC error code.',
    labelNames: ['procedure', 'code'],
  });
  const inFlight = perCallGauge({
    ...perCall,
    name: METRIC.rpcInFlight,
    help: 'Procedure calls being served now.',
    labelNames: ['procedure'],
  });
  const rejected = new Counter({
    name: METRIC.httpRejected,
    help: 'HTTP requests refused before any procedure ran, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const ready = new Gauge({
    name: METRIC.serviceReady,
    help: '1 while the instance reports ready, else 0.',
    registers: [registry],
  });
  ready.set(0);

  return {
    registry,
    procedureLabel,
    recordCall({ procedure, type, code, durationSeconds }) {
      const label = procedureLabel(procedure);
      requests.series(label, type, code).inc();
      duration.series(label, type).observe(durationSeconds);
      if (code !== 'OK') errors.series(label, code).inc();
    },
    trackInFlight(procedure) {
      const series = inFlight.series(procedureLabel(procedure));
      series.inc();
      return () => series.dec();
    },
    recordRejected(reason) {
      rejected.inc({ reason });
    },
    setReady(value) {
      ready.set(value ? 1 : 0);
    },
  };
}
