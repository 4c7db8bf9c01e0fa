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

export interface CountSeries {
  inc(): void;
}

export interface LevelSeries extends CountSeries {
  dec(): void;
}

export interface ObserveSeries {
  observe(value: number): void;
}

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

export function perCallCounter(o: PerCallMetricOptions): PerCallMetric<CountSeries> {
  if (leanWanted(o)) return leanCounter(o);
  const counter = new Counter(stock(o));
  return { series: (...values) => counter.labels(...values) };
}

export function perCallGauge(o: PerCallMetricOptions): PerCallMetric<LevelSeries> {
  if (leanWanted(o)) return leanGauge(o);
  const gauge = new Gauge(stock(o));
  return { series: (...values) => gauge.labels(...values) };
}

export function perCallHistogram(o: PerCallMetricOptions & { buckets: readonly number[] }): PerCallMetric<ObserveSeries> {
  if (leanWanted(o)) return leanHistogram(o);
  const histogram = new Histogram({ ...stock(o), buckets: [...o.buckets] });
  return { series: (...values) => histogram.labels(...values) };
}
