// A Prometheus histogram recorded with plain additions (for the frame path, where a prom-client call would cost about
// a microsecond) and handed to a prom-client registry, which formats it with the rest when scraped.

import type { Metric, MetricValueWithName, Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  /** (buckets + 1) observations per bucket, not cumulative; the last is above every bound (+Inf). */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram with one optional label. `observe` finds the bucket by a scan over the bounds and adds; the registry
 * reads the cumulative buckets, sum and count through `get`, as it reads prom-client's own Histogram.
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds, ascending. */
    private readonly buckets: readonly number[],
    registry: Registry,
    /** The label whose value `observe` takes, if any. */
    private readonly labelName?: string,
  ) {
    // the registry needs only name, help, type and get(); prom-client types its argument as its own classes
    registry.registerMetric(this as unknown as Metric);
  }

  /** Adds one observation (of the series `label`, with a label name). */
  observe(value: number, label = ''): void {
    let series = this.series.get(label);
    if (!series) {
      series = { labels: this.labelName ? { [this.labelName]: label } : {}, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(label, series);
    }
    let bucket = 0;
    while (bucket < this.buckets.length && value > this.buckets[bucket]) bucket++;
    series.counts[bucket]++;
    series.sum += value;
    series.count++;
  }

  /** What the registry formats: per series its cumulative buckets (le), +Inf, _sum and _count. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValueWithName<string>[] }> {
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      for (const [i, bound] of this.buckets.entries()) {
        cumulative += counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Forgets every observation (the registry's resetMetrics). */
  reset(): void {
    this.series.clear();
  }
}
