import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallPolicyOptions } from '../policies/policy-options.js';
import { Endpoints } from './endpoints.js';
import { downstreamContract, startDownstream, type Downstream } from './fixtures/downstream.js';
import { createServiceClient } from './service-client.js';

describe('Endpoints', () => {
  it('takes the endpoints in turn', () => {
    const endpoints = new Endpoints(['a', 'b', 'c'], (url) => url);
    expect(Array.from({ length: 7 }, () => endpoints.list[endpoints.next()])).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('sends a retry to the endpoint after the one it failed at, leaving the turn as it is', () => {
    const endpoints = new Endpoints(['a', 'b', 'c'], (url) => url);
    expect(endpoints.next()).toBe(0);
    expect(endpoints.next(0)).toBe(1);
    expect(endpoints.next(2)).toBe(0);
    expect(endpoints.next()).toBe(1);
    expect(endpoints.next()).toBe(2);
  });

  it('has one endpoint for one URL, which every attempt and retry takes', () => {
    const endpoints = new Endpoints('a', (url) => url);
    expect(endpoints.only).toBe('a');
    expect([endpoints.next(), endpoints.next(0), endpoints.next(0)]).toEqual([0, 0, 0]);
  });

  it('passes over an endpoint marked unreachable, unless every endpoint is', () => {
    const endpoints = new Endpoints(['a', 'b', 'c'], (url) => url);
    endpoints.unreachable(1);
    expect(Array.from({ length: 4 }, () => endpoints.next())).toEqual([0, 2, 0, 2]);
    expect(endpoints.next(0)).toBe(2);
    endpoints.unreachable(0);
    endpoints.unreachable(2);
    expect(endpoints.next()).toBe(0);
  });

  it('refuses an empty list at construction', () => {
    expect(() => new Endpoints([], (url) => url)).toThrow(/at least one URL/);
  });
});

// Two instances of a service, real HTTP servers on port 0; one is shut down in some tests.
const running: Downstream[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.service.shutdown('done')));
});

async function twoInstances(policies: CallPolicyOptions = { maxAttempts: 2 }) {
  const a = await startDownstream();
  const b = await startDownstream();
  running.push(a, b);
  const registry = new Registry();
  const client = createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url: [a.address.url, b.address.url],
    registry,
    policies,
  });
  const stop = async (d: Downstream) => {
    running.splice(running.indexOf(d), 1);
    await d.service.shutdown('done');
  };
  return { a, b, client, registry, stop };
}

describe('a client of a target with two instances', () => {
  it('spreads calls over both, one after another and made in the same turn', async () => {
    const { a, b, client } = await twoInstances();
    for (let n = 0; n < 10; n++) expect(await client.with().work.query({ n })).toEqual({ ok: true, n });
    expect([a.state.calls.work, b.state.calls.work]).toEqual([5, 5]);
    await Promise.all(Array.from({ length: 10 }, (_, n) => client.with().work.query({ n })));
    expect([a.state.calls.work, b.state.calls.work]).toEqual([10, 10]);
  });

  // With two attempts per call, a call whose first attempt meets the stopped instance succeeds
  // only if its retry goes to the other one; after that the stopped one is passed over.
  it('retries a call on the other instance when one is down, then passes the down one over', async () => {
    const { a, b, client, registry, stop } = await twoInstances();
    await client.with().work.query({ n: 0 });
    await stop(a);
    for (let n = 1; n <= 6; n++) expect(await client.with().work.query({ n })).toEqual({ ok: true, n });
    expect(b.state.calls.work).toBe(6);
    // a took call 0; call 1 went to b, call 2 met a and was retried on b, and a was passed over after.
    expect(await registry.metrics()).toMatch(
      /switchyard_client_retries_total\{target="downstream",procedure="work",reason="not-sent"\} 1\n/,
    );
  });

  // A burst's first attempts leave in one batch per instance before any refusal is seen, so
  // half of them retry; the breaker (the target's, counting every attempt) stays closed.
  it('retries the calls of a burst on the other instance, with the breaker on', async () => {
    const { a, b, client, stop } = await twoInstances();
    await client.with().work.query({ n: 0 });
    await stop(a);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, n) => client.with().work.query({ n })));
    expect(answers).toEqual(Array.from({ length: 10 }, (_, n) => ({ ok: true, n })));
    expect(b.state.calls.work).toBe(10);
    expect(client.breakerState()).toBe('closed');
    const next = await Promise.all(Array.from({ length: 10 }, (_, n) => client.with().work.query({ n })));
    expect(next).toHaveLength(10);
    expect(b.state.calls.work).toBe(20);
  });
});
