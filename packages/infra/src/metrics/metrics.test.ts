import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

// The RED series read the same whether the engine's lean metrics or prom-client's classes hold them.
describe('createMetrics', () => {
  const options = { service: 'notes', procedures: ['get', 'create'], processMetrics: false };

  function exercise(lean: boolean) {
    const metrics = createMetrics({ ...options, lean });
    const doneGet = metrics.trackInFlight('get');
    const doneCreate = metrics.trackInFlight('create');
    metrics.trackInFlight('no.such.procedure');
    doneGet();
    metrics.recordCall({ procedure: 'get', type: 'query', code: 'OK', durationSeconds: 0.004 });
    metrics.recordCall({ procedure: 'get', type: 'query', code: 'NOT_FOUND', durationSeconds: 0.02 });
    metrics.recordCall({ procedure: 'other', type: 'query', code: 'NOT_FOUND', durationSeconds: 3 });
    doneCreate();
    metrics.recordCall({ procedure: 'create', type: 'mutation', code: 'OK', durationSeconds: 12 });
    metrics.recordRejected('draining');
    metrics.setReady(true);
    return metrics.registry;
  }

  it('gives the same /metrics text with lean series and with prom-client classes', async () => {
    const lean = exercise(true);
    const stock = exercise(false);
    const text = await stock.metrics();
    expect(text).toContain('switchyard_rpc_requests_total{procedure="get",type="query",code="NOT_FOUND",service="notes"} 1');
    expect(text).toContain('switchyard_rpc_in_flight{procedure="__unknown__",service="notes"} 1');
    expect(text).toContain('switchyard_rpc_in_flight{procedure="get",service="notes"} 0');
    expect(await lean.metrics()).toBe(text);
    // Each registry holds what it was asked for: prom-client's classes, or the lean series.
    expect(stock.getSingleMetric('switchyard_rpc_requests_total')).toBeInstanceOf(Counter);
    expect(lean.getSingleMetric('switchyard_rpc_requests_total')).not.toBeInstanceOf(Counter);
  });
});
