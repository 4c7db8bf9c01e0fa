import type { Metric, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { HistogramSeries, ValueSeries, type Labels } from './lean-series.js';

/**
 * Counters, gauges and histograms for per-call paths (a service's RED series, the service
 * client's). prom-client hashes, validates and copies the label values on every `inc` and
 * `observe`, even through `labels()` children. Here a series is looked up by its label values in
 * one Map and then updated as plain fields; the registry reads the series at scrape time in
 * prom-client's own export format, so `/metrics` text is the same as prom-client's classes give.
 */
abstract class LeanMetric<S extends { labels: Labels }> {
  readonly aggregator = 'sum' as const;
  protected readonly all = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for these label values (in `labelNames` order), made on first use. */
  series(...values: string[]): S {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let found = this.all.get(key);
    if (!found) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
      found = this.make(labels);
      this.all.set(key, found);
    }
    return found;
  }

  /** Called by `registry.resetMetrics()`. */
  reset(): void {
    this.all.clear();
  }

  protected abstract make(labels: Labels): S;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  abstract getForPromString(): Promise<MetricObjectWithValues<MetricValue<string>>>;

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const metric = await this.getForPromString();
    // As prom-client's histogram does: the series labels merged into each value's own.
    const values = metric.values.map((v) => {
      const { sharedLabels, labels, ...rest } = v as typeof v & { sharedLabels?: Labels };
      return sharedLabels ? { ...rest, labels: { ...labels, ...sharedLabels } } : v;
    });
    return { ...metric, values } as MetricObjectWithValues<MetricValue<string>>;
  }
}

class ValueMetric extends LeanMetric<ValueSeries> {
  constructor(
    readonly type: 'counter' | 'gauge',
    name: string,
    help: string,
    labelNames: readonly string[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected make(labels: Labels): ValueSeries {
    return new ValueSeries(labels);
  }

  getForPromString() {
    const values = [...this.all.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values } as never);
  }
}

class HistogramMetric extends LeanMetric<HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    registry: Registry,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames, registry);
  }

  protected make(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: Array<{
      labels: Record<string, string | number>;
      value: number;
      metricName: string;
      exemplar?: null;
      sharedLabels: Labels;
    }> = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le }, value: cumulative, metricName: bucket, exemplar: null, sharedLabels: s.labels });
      });
      values.push(
        { labels: { le: '+Inf' }, value: s.count, metricName: bucket, exemplar: null, sharedLabels: s.labels },
        { labels: {}, value: s.sum, metricName: `${this.name}_sum`, sharedLabels: s.labels },
        { labels: {}, value: s.count, metricName: `${this.name}_count`, sharedLabels: s.labels },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values } as never);
  }
}

export interface LeanMetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
}

export const leanCounter = (o: LeanMetricOptions) => new ValueMetric('counter', o.name, o.help, o.labelNames, o.registry);
export const leanGauge = (o: LeanMetricOptions) => new ValueMetric('gauge', o.name, o.help, o.labelNames, o.registry);
export const leanHistogram = (o: LeanMetricOptions & { buckets: readonly number[] }) =>
  new HistogramMetric(
    o.name,
    o.help,
    o.labelNames,
    o.registry,
    [...o.buckets].sort((a, b) => a - b),
  );
