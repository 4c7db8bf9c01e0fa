import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { leanCounter, leanGauge, leanHistogram } from '../engine/lean-metrics.js';
import { bypassOn } from '../engine/switches.js';

/**
 * The metrics a per-call path updates: each call looks its series up by label values (in
 * `labelNames` order) and changes it. They are the engine's lean metrics unless the `leanMetrics`
 * bypass is off, and then prom-client's own classes through `labels()`; both expose the same text.
 */
export interface PerCallMetric<S> {
  series(...values: string[]): S;
}

/** A counter's series. */
export interface CountSeries {
  inc(): void;
}

/** A gauge's series. */
export interface LevelSeries extends CountSeries {
  dec(): void;
}

/** A histogram's series. */
export interface ObserveSeries {
  observe(value: number): void;
}

/** What prom-client's classes take, with the registry and the choice of lean series. */
export interface PerCallMetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
  /** The engine's lean series rather than prom-client's classes. @default bypassOn('leanMetrics') */
  lean?: boolean | undefined;
}

const leanWanted = (o: PerCallMetricOptions) => o.lean ?? bypassOn('leanMetrics');
const stock = (o: PerCallMetricOptions) => ({ name: o.name, help: o.help, labelNames: o.labelNames, registers: [o.registry] });

/** A counter for a per-call path. */
export function perCallCounter(o: PerCallMetricOptions): PerCallMetric<CountSeries> {
  if (leanWanted(o)) return leanCounter(o);
  const counter = new Counter(stock(o));
  return { series: (...values) => counter.labels(...values) };
}

/** A gauge for a per-call path. */
export function perCallGauge(o: PerCallMetricOptions): PerCallMetric<LevelSeries> {
  if (leanWanted(o)) return leanGauge(o);
  const gauge = new Gauge(stock(o));
  return { series: (...values) => gauge.labels(...values) };
}

/** A histogram for a per-call path. */
export function perCallHistogram(o: PerCallMetricOptions & { buckets: readonly number[] }): PerCallMetric<ObserveSeries> {
  if (leanWanted(o)) return leanHistogram(o);
  const histogram = new Histogram({ ...stock(o), buckets: [...o.buckets] });
  return { series: (...values) => histogram.labels(...values) };
}
