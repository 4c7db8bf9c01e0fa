import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { urlsOf, type TargetUrl } from '../config/url-list.js';
import { ACCESS_TOKEN, createAccessTokenVerifier, type VerifiedAccess } from './access-token.js';
import { Revocations } from './revocations.js';

/**
 * How a service that is not auth verifies its users: access tokens against auth's JWKS, and the
 * revocations auth publishes, followed in memory (loaded once `redis` is ready, then over
 * `subscriber`). Without Redis, tokens are still verified but revocations reach this instance
 * only by expiry.
 * @example const verifyAccessToken = await createUserVerification({ authUrl: config.AUTH_URL, redis, subscriber, logger });
 */
export async function createUserVerification(options: {
  /** Auth's base URL, or each of its instances' (see {@link createAccessTokenVerifier}'s `jwksUrl`). */
  authUrl: TargetUrl;
  /** Any connection that answers HGETALL (a request-role one). */
  redis?: Redis | undefined;
  /** A blocking-role connection for the announcements. */
  subscriber?: Redis | undefined;
  logger: Logger;
}): Promise<(token: string) => Promise<VerifiedAccess>> {
  const revocations = new Revocations(ACCESS_TOKEN.lifetimeSeconds * 1000);
  const { redis, subscriber, logger } = options;
  if (redis && subscriber) {
    await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
    await revocations.follow(redis, subscriber, logger);
  } else {
    logger.warn('no Redis: revoked sign-ins are refused here only when their tokens expire');
  }
  return createAccessTokenVerifier({
    jwksUrl: urlsOf(options.authUrl).map((url) => `${url.replace(/\/$/, '')}/.well-known/jwks.json`),
    revokedBefore: revocations.revokedBefore,
    sessionRevoked: revocations.sessionRevoked,
  });
}
