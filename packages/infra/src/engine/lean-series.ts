// The series of the lean metrics (lean-metrics.ts): plain fields that a per-call path updates and
// the registry reads at scrape time.

/** A series' label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** A counter or gauge series. */
export class ValueSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(): void {
    this.value += 1;
  }
  dec(): void {
    this.value -= 1;
  }
}

/** A histogram series. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one observation (same bucket rule as prom-client: `value <= bound`). */
  observe(value: number): void {
    const { bounds, counts } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}
