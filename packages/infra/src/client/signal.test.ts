import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDownstream, downstreamContract, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

// The service client offers the per-call options it honours, and the signal is one of them.
let downstream: Downstream;

beforeAll(async () => {
  downstream = await startDownstream();
});

afterAll(async () => {
  await downstream?.service.shutdown('done');
});

const client = () =>
  createServiceClient({ target: 'downstream', contract: downstreamContract, url: downstream.address.url }).with();

describe("a caller's signal", () => {
  it('ends a call in flight at once with CLIENT_CLOSED_REQUEST, long before the handler answers', async () => {
    downstream.state.delayMs = 2_000;
    const controller = new AbortController();
    const started = performance.now();
    const call = client().work.query({ n: 1 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await call.then(
      () => undefined,
      (err: unknown) => err,
    );
    const tookMs = performance.now() - started;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<never>).data).toMatchObject({ appCode: 'CLIENT_CLOSED_REQUEST' });
    // Ended by the abort at 50 ms, not by the handler's 2 s: a bound with room for a loaded machine.
    expect(tookMs).toBeLessThan(1_500);
    downstream.state.delayMs = 0;
  });

  it('refuses a call whose signal has already fired, and a mutation as well', async () => {
    const error = await client()
      .record.mutate({ id: 'never' }, { signal: AbortSignal.abort() })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect((error as TRPCClientError<never>).data).toMatchObject({ appCode: 'CLIENT_CLOSED_REQUEST' });
  });

  it('leaves a call whose signal never fires to answer', async () => {
    expect(await client().work.query({ n: 7 }, { signal: new AbortController().signal })).toEqual({ ok: true, n: 7 });
  });

  it('is the only per-call option the type offers', () => {
    const typed = client();
    // @ts-expect-error tRPC's `context` option is not honoured by the service client, so it is not offered.
    void typed.work.query({}, { context: {} }).catch(() => undefined);
    // @ts-expect-error a query has no `mutate`.
    expect(typed.work.mutate).toBeUndefined();
  });
});
