import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC, UNKNOWN_PROCEDURE } from './names.js';

/** Options of {@link createMetrics}. */
export interface CreateMetricsOptions {
  /** The service name: a default label on every series. */
  service: string;
  /** The procedures that may appear as label values; any other path becomes `__unknown__`. */
  procedures: readonly string[];
  /** Collect Node's process metrics (heap, event loop lag, GC). @default true */
  processMetrics?: boolean;
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

  const registers = [registry];
  const requests = new Counter({
    name: METRIC.rpcRequests,
    help: 'Procedure calls by procedure, type and result code (OK or the tRPC error code).',
    labelNames: ['procedure', 'type', 'code'] as const,
    registers,
  });
  const duration = new Histogram({
    name: METRIC.rpcDuration,
    help: 'Procedure call duration in seconds.',
    labelNames: ['procedure', 'type'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: METRIC.rpcErrors,
    help: 'Failed procedure calls by procedure and tRPC error code.',
    labelNames: ['procedure', 'code'] as const,
    registers,
  });
  const inFlight = new Gauge({
    name: METRIC.rpcInFlight,
    help: 'Procedure calls being served now.',
    labelNames: ['procedure'] as const,
    registers,
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
      requests.inc({ procedure: label, type, code });
      duration.observe({ procedure: label, type }, durationSeconds);
      if (code !== 'OK') errors.inc({ procedure: label, code });
    },
    trackInFlight(procedure) {
      const labels = { procedure: procedureLabel(procedure) };
      inFlight.inc(labels);
      return () => inFlight.dec(labels);
    },
    recordRejected(reason) {
      rejected.inc({ reason });
    },
    setReady(value) {
      ready.set(value ? 1 : 0);
    },
  };
}
