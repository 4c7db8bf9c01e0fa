import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { urlsOf, type TargetUrl } from '../config/url-list.js';

/** How the remote key sets fetch: in ms, the least time between refetches and a fetch's timeout. */
export interface RemoteKeysOptions {
  cooldownMs: number;
  timeoutMs: number;
}

/**
 * The signing keys of auth's JWKS, from one URL or from each instance's: every instance serves
 * the same keys, so a key is asked of one set, then of the next when a set fails (unreachable,
 * too slow, or without the key), and the first failure is the one reported. Each set caches what
 * it fetched, so a healthy instance answers from memory.
 * @example const keys = remoteKeys(['http://auth-1:4002/.well-known/jwks.json', 'http://auth-2:4003/.well-known/jwks.json'], { cooldownMs: 30_000, timeoutMs: 2_000 });
 */
export function remoteKeys(urls: TargetUrl, options: RemoteKeysOptions): JWTVerifyGetKey {
  const sets = urlsOf(urls).map((url) =>
    createRemoteJWKSet(new URL(url), { cooldownDuration: options.cooldownMs, timeoutDuration: options.timeoutMs }),
  );
  if (sets.length === 1) return sets[0]!;
  // The set that answered last is asked first, so an instance that is down costs one failed
  // fetch, not one per new token.
  let from = 0;
  return async (header, token) => {
    let first: unknown;
    for (let k = 0; k < sets.length; k++) {
      const at = (from + k) % sets.length;
      try {
        const key = await sets[at]!(header, token);
        from = at;
        return key;
      } catch (error) {
        first ??= error;
      }
    }
    throw first;
  };
}
