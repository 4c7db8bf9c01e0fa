import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import type { KeyStore } from './keys.js';

/** How long the public keys are kept before they are read again. */
const KEEP_MS = 10_000;
/** The least time between two reads made for a key id not found, so unknown ids cannot flood the database. */
const MIN_RELOAD_MS = 100;

/**
 * The key lookup auth verifies its own access tokens with: the public keys in its database, kept
 * for {@link KEEP_MS}. A token whose key id is not among them (a key made since, by a rotation on
 * any instance) makes it read them again at once, one read at a time and at most every
 * {@link MIN_RELOAD_MS}, before it is refused.
 */
export function ownKeys(keys: KeyStore): JWTVerifyGetKey {
  let current: { getKey: JWTVerifyGetKey; at: number } | undefined;
  let loading: Promise<JWTVerifyGetKey> | undefined;
  const load = (notBefore = 0): Promise<JWTVerifyGetKey> =>
    (loading ??= (async () => {
      try {
        const wait = notBefore - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const getKey = createLocalJWKSet(await keys.jwks());
        current = { getKey, at: Date.now() };
        return getKey;
      } finally {
        loading = undefined;
      }
    })());
  return async (header, token) => {
    const kept = current && Date.now() - current.at <= KEEP_MS ? current : undefined;
    const getKey = kept?.getKey ?? (await load());
    try {
      return await getKey(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !kept) throw err;
      return (await load(kept.at + MIN_RELOAD_MS))(header, token);
    }
  };
}
