import { TRPCClientError } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import { downstreamContract, startDownstream, type Downstream } from '../client/fixtures/downstream.js';
import { createServiceClient } from '../client/service-client.js';
import { parseTrustedServiceKeys, verifyServiceCredential } from './service-identity.js';

const OLD = 'old-key-0123456789abcdef';
const NEW = 'new-key-fedcba9876543210-rotated';

const started: Downstream[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.service.shutdown('done')));
});

async function downstreamTrusting(spec: string) {
  const d = await startDownstream({ TRUSTED_SERVICE_KEYS: spec });
  started.push(d);
  return d;
}

const callInternal = (url: string, key?: string, service = 'gateway-test') =>
  createServiceClient({
    target: 'downstream',
    contract: downstreamContract,
    url,
    ...(key ? { caller: { service, key } } : {}),
    policies: { maxAttempts: 1 },
  })
    .with()
    .internal.query({})
    .then(
      (r) => r.caller,
      (e: unknown) =>
        e instanceof TRPCClientError ? ((e.data as { httpStatus?: number } | undefined)?.httpStatus ?? 'network') : 'other',
    );

describe('service identity', () => {
  it('accepts old and new keys during a rotation, and only the new one after it', async () => {
    const during = await downstreamTrusting(`gateway-test=${OLD},${NEW}`);
    expect(await callInternal(during.address.url, OLD)).toBe('gateway-test');
    expect(await callInternal(during.address.url, NEW)).toBe('gateway-test');

    const after = await downstreamTrusting(`gateway-test=${NEW}`);
    expect(await callInternal(after.address.url, NEW)).toBe('gateway-test');
    expect(await callInternal(after.address.url, OLD)).toBe(401);
    for (const d of [during, after]) {
      expect(d.logs.text()).not.toContain(OLD);
      expect(d.logs.text()).not.toContain(NEW);
    }
  });

  it('refuses a wrong key of another length with 401 (never 500), and says why only in its log', async () => {
    const d = await downstreamTrusting(`gateway-test=${NEW}`);
    for (const wrong of ['short-wrong-key-xx', 'x'.repeat(200), `${NEW}-and-more`]) {
      expect(await callInternal(d.address.url, wrong)).toBe(401);
    }
    const raw = await fetch(`${d.address.url}/trpc/internal?input=${encodeURIComponent('{"json":{}}')}`, {
      headers: { 'x-service-credential': 'gateway-test.\u00e9\u00e9\u00e9' },
    });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toBe('ServiceCredential');
    expect(d.logs.lines().filter((l) => l.msg === 'refused a service credential')).toHaveLength(4);
  });

  it('an internal-only procedure refuses callers that are not an allowed service with 403', async () => {
    const d = await downstreamTrusting(`gateway-test=${NEW};other-service=${OLD}`);
    expect(await callInternal(d.address.url)).toBe(403);
    expect(await callInternal(d.address.url, OLD, 'other-service')).toBe(403);
    const withUserToken = await fetch(`${d.address.url}/trpc/internal?input=${encodeURIComponent('{"json":{}}')}`, {
      headers: { authorization: 'Bearer some.user.token' },
    });
    expect(withUserToken.status).toBe(403);
    expect(await callInternal(d.address.url, NEW)).toBe('gateway-test');
    // Public procedures need no credential.
    const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: d.address.url });
    expect(await client.with().work.query({})).toEqual({ ok: true });
  });
});

describe('credential parsing and checking', () => {
  it('reads an empty spec as no trusted service', () => {
    expect(parseTrustedServiceKeys('').size).toBe(0);
    expect(parseTrustedServiceKeys(' ; ').size).toBe(0);
  });

  it.each([
    ['notes', /^entry 1 of 1 is not service=key\[,key\]$/],
    ['activity=0123456789abcdef; 0123456789abcdef', /^entry 2 of 2 is not service=key\[,key\]$/],
    ['=0123456789abcdef', /^entry 1 of 1: a service name must match /],
    ['notes=', /^keys of "notes" must be 16-256 characters/],
    ['Notes=0123456789abcdef', /^entry 1 of 1: a service name must match /],
    ['notes=short', /^keys of "notes" must be 16-256 characters/],
    ['notes=0123456789abcdef,bad key with spaces', /^keys of "notes" must be 16-256 characters/],
  ])('rejects the spec %j, naming what is wrong and never a key', (spec, message) => {
    expect(() => parseTrustedServiceKeys(spec)).toThrow(message);
    expect(() => parseTrustedServiceKeys(spec)).not.toThrow(/0123456789abcdef/);
  });

  it.each([
    '',
    '.',
    'notes',
    'notes.',
    '.0123456789abcdef',
    'unknown.0123456789abcdef',
    'notes.0123456789abcdeX',
    `notes.${'a'.repeat(400)}`,
  ])('does not verify %j, without throwing', (value) => {
    const trusted = parseTrustedServiceKeys('notes=0123456789abcdef');
    expect(verifyServiceCredential(value, trusted)).toBeUndefined();
  });
});
