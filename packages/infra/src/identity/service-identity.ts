import { createHash, timingSafeEqual } from 'node:crypto';

export { SERVICE_CREDENTIAL_HEADER } from '../wire/index.js';

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const KEY = /^[A-Za-z0-9_-]{16,256}$/;

/** A caller that proved it is a service of the mesh. */
export interface ServiceCaller {
  readonly service: string;
}

/** Keys each calling service may present; several at once while a key rotates. */
export type TrustedServiceKeys = ReadonlyMap<string, readonly Buffer[]>;

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Parses `TRUSTED_SERVICE_KEYS`: `notes=key1,key2;activity=key3`. Keys are 16-256 characters of
 * `A-Z a-z 0-9 _ -`; only their SHA-256 digests are kept. Throws a message naming what is wrong
 * (never the key itself).
 */
export function parseTrustedServiceKeys(spec: string): TrustedServiceKeys {
  const trusted = new Map<string, Buffer[]>();
  const entries = spec
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const [i, entry] of entries.entries()) {
    // An entry is named by its place, never by its text: a malformed one may be a bare key.
    const place = `entry ${i + 1} of ${entries.length}`;
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`${place} is not service=key[,key]`);
    const service = entry.slice(0, eq).trim();
    if (!SERVICE_NAME.test(service)) throw new Error(`${place}: a service name must match ${SERVICE_NAME}`);
    const keys = entry
      .slice(eq + 1)
      .split(',')
      .map((k) => k.trim());
    if (keys.length === 0 || keys.some((k) => !KEY.test(k)))
      throw new Error(`keys of "${service}" must be 16-256 characters of A-Z a-z 0-9 _ -`);
    trusted.set(service, [...(trusted.get(service) ?? []), ...keys.map(digest)]);
  }
  return trusted;
}

/** The header value for a service's outbound calls. */
export function serviceCredential(service: string, key: string): string {
  if (!SERVICE_NAME.test(service)) throw new Error(`service name must match ${SERVICE_NAME}`);
  if (!KEY.test(key)) throw new Error('SERVICE_KEY must be 16-256 characters of A-Z a-z 0-9 _ -');
  return `${service}.${key}`;
}

/** The service a credential claims to be (before any key is checked), when it names one well-formed. */
export function claimedService(value: string): string | undefined {
  const service = value.slice(0, Math.max(value.indexOf('.'), 0));
  return SERVICE_NAME.test(service) ? service : undefined;
}

/**
 * Checks a presented credential. Compares SHA-256 digests (always 32 bytes) with
 * `timingSafeEqual`, so a key of any length is refused without throwing and without timing hints.
 * @returns the caller, or `undefined` when the credential is malformed or no trusted key matches.
 */
export function verifyServiceCredential(value: string, trusted: TrustedServiceKeys): ServiceCaller | undefined {
  const dot = value.indexOf('.');
  if (dot < 1 || value.length > 300) return undefined;
  const service = value.slice(0, dot);
  const keys = trusted.get(service);
  if (!keys) return undefined;
  const presented = digest(value.slice(dot + 1));
  let match = false;
  // Compare against every key, so the time taken does not say which one matched.
  for (const key of keys) match = timingSafeEqual(presented, key) || match;
  return match ? { service } : undefined;
}
