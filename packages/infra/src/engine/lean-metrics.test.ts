import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { leanCounter, leanGauge, leanHistogram } from './lean-metrics.js';

// The lean metrics must expose exactly what prom-client's classes expose for the same updates.
function registries() {
  const stock = new Registry();
  const lean = new Registry();
  for (const r of [stock, lean]) r.setDefaultLabels({ service: 'svc' });
  return { stock, lean };
}

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0, 0.001, 0.0011, 0.05, 0.1, 0.7, 1, 3, 1e-9];

describe('lean metrics', () => {
  it('give the same /metrics text and JSON as prom-client for the same updates', async () => {
    const { stock, lean } = registries();
    const c = new Counter({
      name: 'x_total',
      help: 'Calls "quoted" \\ help.',
      labelNames: ['procedure', 'code'],
      registers: [stock],
    });
    const g = new Gauge({ name: 'x_in_flight', help: 'Now.', labelNames: ['procedure'], registers: [stock] });
    const h = new Histogram({
      name: 'x_seconds',
      help: 'Time.',
      labelNames: ['procedure', 'type'],
      buckets: BUCKETS,
      registers: [stock],
    });
    const lc = leanCounter({
      name: 'x_total',
      help: 'Calls "quoted" \\ help.',
      labelNames: ['procedure', 'code'],
      registry: lean,
    });
    const lg = leanGauge({ name: 'x_in_flight', help: 'Now.', labelNames: ['procedure'], registry: lean });
    const lh = leanHistogram({
      name: 'x_seconds',
      help: 'Time.',
      labelNames: ['procedure', 'type'],
      buckets: BUCKETS,
      registry: lean,
    });

    for (const [procedure, code] of [
      ['get', 'OK'],
      ['get', 'OK'],
      ['get', 'NOT_FOUND'],
      ['list "a"\n', 'OK'],
    ] as const) {
      c.inc({ procedure, code });
      lc.series(procedure, code).inc();
    }
    g.inc({ procedure: 'get' });
    g.inc({ procedure: 'get' });
    g.dec({ procedure: 'get' });
    g.inc({ procedure: 'list' });
    g.dec({ procedure: 'list' });
    lg.series('get').inc();
    lg.series('get').inc();
    lg.series('get').dec();
    lg.series('list').inc();
    lg.series('list').dec();
    for (const value of OBSERVED) {
      h.observe({ procedure: 'get', type: 'query' }, value);
      lh.series('get', 'query').observe(value);
    }
    h.observe({ procedure: 'save', type: 'mutation' }, 0.02);
    lh.series('save', 'mutation').observe(0.02);

    const text = await stock.metrics();
    expect(text).toContain('x_seconds_bucket{le="0.01",service="svc",procedure="get",type="query"} 4');
    expect(await lean.metrics()).toBe(text);
    expect(await lean.getMetricsAsJSON()).toEqual(await stock.getMetricsAsJSON());

    stock.resetMetrics();
    lean.resetMetrics();
    expect(await lean.metrics()).toBe(await stock.metrics());
  });
});
