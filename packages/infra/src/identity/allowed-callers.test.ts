import { TRPCClientError } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import { downstreamContract, startDownstream, type Downstream } from '../client/fixtures/downstream.js';
import { createServiceClient } from '../client/service-client.js';

// A service answers only the services mesh.json lets call it (ALLOWED_CALLERS): any other
// service's credential is refused with 403 and the reason, even a credential it could verify.
const KEYS = { 'gateway-test': 'gateway-test-key-0123456789', billing: 'billing-key-0123456789abcdef' };

const started: Downstream[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.service.shutdown('done')));
});

async function downstream(allowedCallers: string) {
  const d = await startDownstream({
    TRUSTED_SERVICE_KEYS: Object.entries(KEYS)
      .map(([service, key]) => `${service}=${key}`)
      .join(';'),
    ALLOWED_CALLERS: allowedCallers,
  });
  started.push(d);
  return d;
}

const callAs = (url: string, service: keyof typeof KEYS, key: string = KEYS[service]) =>
  createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url,
    caller: { service, key },
    policies: { maxAttempts: 1 },
  })
    .with()
    .internal.query({})
    .then(
      (r) => ({ status: 200, appCode: undefined as string | undefined, message: r.caller }),
      (e: unknown) => {
        const data = e instanceof TRPCClientError ? (e.data as { httpStatus?: number; appCode?: string } | undefined) : undefined;
        return { status: data?.httpStatus ?? 'other', appCode: data?.appCode, message: (e as Error).message };
      },
    );

describe('allowed callers', () => {
  it('answers a listed service and refuses an unlisted one with 403 and why, whatever its key', async () => {
    const d = await downstream('gateway-test');
    expect(await callAs(d.address.url, 'gateway-test')).toEqual({ status: 200, appCode: undefined, message: 'gateway-test' });
    const refused = await callAs(d.address.url, 'billing');
    expect(refused.status).toBe(403);
    expect(refused.appCode).toBe('FORBIDDEN');
    expect(refused.message).toMatch(/Service "billing" may not call \S+: mesh.json does not list \S+ among billing's calls/);
    expect((await callAs(d.address.url, 'billing', 'wrong-key-0123456789abcdef')).status).toBe(403);
    // A listed service with a wrong key is still refused as unauthenticated.
    expect((await callAs(d.address.url, 'gateway-test', 'wrong-key-0123456789abcdef')).status).toBe(401);
  });

  it('with an empty list, refuses every service', async () => {
    const d = await downstream('');
    expect((await callAs(d.address.url, 'gateway-test')).status).toBe(403);
  });
});
