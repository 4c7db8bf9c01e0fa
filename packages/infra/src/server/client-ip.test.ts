import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';

// The client address (rate limits, idempotency scope, sign-in limits) comes from X-Forwarded-For
// only when the peer is one of TRUSTED_PROXIES; the test's own address, 127.0.0.1, is the peer.
const contract = defineContract({
  whereFrom: { type: 'query', input: z.object({}), output: z.object({ ip: z.string() }), access: 'public' },
});
const router = implement(contract, { whereFrom: ({ ctx }) => ({ ip: ctx.clientIp }) });

let untrusted: TestService;
let otherProxy: TestService;
let trusted: TestService;
beforeAll(async () => {
  untrusted = await startTestService({ router });
  otherProxy = await startTestService({ router, env: { TRUSTED_PROXIES: '10.0.0.1' } });
  trusted = await startTestService({ router, env: { TRUSTED_PROXIES: '10.0.0.1, 127.0.0.1' } });
});
afterAll(async () => {
  await Promise.all([untrusted, otherProxy, trusted].map((s) => s?.close()));
});

async function clientIp(service: TestService, forwardedFor?: string): Promise<string> {
  const res = await fetch(`${service.url}/trpc/whereFrom?input=${encodeURIComponent('{"json":{}}')}`, {
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: { json: { ip: string } } } }).result.data.json.ip;
}

describe('X-Forwarded-For', () => {
  it('is ignored without TRUSTED_PROXIES: the address is the peer', async () => {
    expect(await clientIp(untrusted)).toBe('127.0.0.1');
    expect(await clientIp(untrusted, '203.0.113.9')).toBe('127.0.0.1');
  });

  it('is ignored from a peer that is not one of TRUSTED_PROXIES', async () => {
    expect(await clientIp(otherProxy, '203.0.113.9')).toBe('127.0.0.1');
  });

  it.each([
    ['203.0.113.9', '203.0.113.9'],
    // Entries left of the last untrusted one are the client's own, and may be forged.
    ['198.51.100.66, 203.0.113.9', '203.0.113.9'],
    // Trusted proxies on the right are skipped.
    ['203.0.113.9, 10.0.0.1', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    // Only trusted hops: the peer.
    ['10.0.0.1', '127.0.0.1'],
    ['', '127.0.0.1'],
  ])('from a trusted proxy gives %j the address %j', async (forwardedFor, expected) => {
    expect(await clientIp(trusted, forwardedFor)).toBe(expected);
  });

  it('from a trusted proxy, absent, leaves the peer', async () => {
    expect(await clientIp(trusted)).toBe('127.0.0.1');
  });
});
