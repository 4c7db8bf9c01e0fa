import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { withFallback } from './fallback.js';
import { createServiceClient } from './service-client.js';

describe('typed fallback', () => {
  let downstream: Downstream;
  beforeAll(async () => {
    downstream = await startDownstream();
  });
  afterAll(async () => {
    await downstream.service.shutdown('done');
  });

  it('replaces an answer the target cannot give, but never a refusal', async () => {
    const client = createServiceClient({
      target: 'downstream',
      contract: downstreamContract,
      url: downstream.address.url,
      policies: { maxAttempts: 1, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } },
    });
    downstream.state.mode = 'fail';
    const fallback = { ok: true as const, n: -1 };
    expect(await withFallback(downstreamContract, 'work', client.with().work.query({}), fallback)).toEqual(fallback);
    expect(await withFallback(downstreamContract, 'work', client.with().work.query({}), fallback)).toEqual(fallback);
    const callsBefore = downstream.state.calls.work;
    // Circuit open now: the fallback comes without a network attempt.
    expect(await withFallback(downstreamContract, 'work', client.with().work.query({}), fallback)).toEqual(fallback);
    expect(downstream.state.calls.work).toBe(callsBefore);
    const fresh = createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url });
    await expect(withFallback(downstreamContract, 'refuse', fresh.with().refuse.query({ status: '404' }), {})).rejects.toThrow(
      'refused with 404',
    );
  });

  it('checks the fallback against the output schema at run time', async () => {
    downstream.state.mode = 'ok';
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url });
    const bad = { ok: false } as unknown as { ok: true };
    const call = client.with().work.query({ n: 2 });
    const refused = await withFallback(downstreamContract, 'work', call, bad).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ZodError);
    expect((refused as ZodError).issues).toMatchObject([{ path: ['ok'], code: 'invalid_value' }]);
    // The call itself was made and is awaited here, so that it does not outlive the test.
    expect(await call).toEqual({ ok: true, n: 2 });
  });
});
