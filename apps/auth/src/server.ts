import type pg from 'pg';
import { authContract } from '@switchyard/api-contracts';
import { ACCESS_TOKEN, Revocations, createAccessTokenVerifier } from '@switchyard/infra/auth';
import type { Logger } from '@switchyard/infra/logging';
import { createMetrics } from '@switchyard/infra/metrics';
import { RateLimiter } from '@switchyard/infra/rate-limit';
import { createRedisPlatform, type Redis } from '@switchyard/infra/redis';
import { createService, sendJson, type Service } from '@switchyard/infra/server';
import type { AuthConfig } from './env.js';
import { createKeyStore, type KeyStore } from './keys.js';
import { ownKeys } from './own-keys.js';
import { dummyHash } from './passwords.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { createAuthRouter } from './router.js';
import { createUserStore } from './users.js';

/** What the auth service needs from outside. */
export interface AuthDeps {
  config: AuthConfig;
  pool: pg.Pool;
  /** A blocking-role connection, for revocation announcements. */
  subscriber: Redis;
  logger: Logger;
  /** How long a rotated refresh token still gets its successor again, in ms. @default REFRESH_GRACE_MS (10 s) */
  refreshGraceMs?: number;
}

/** The auth service, wired but not listening; the key store makes sure a signing key exists. */
export async function createAuthService({
  config,
  pool,
  subscriber,
  logger,
  refreshGraceMs,
}: AuthDeps): Promise<{ service: Service; keys: KeyStore; redis: Redis }> {
  const metrics = createMetrics({ service: 'auth', procedures: Object.keys(authContract) });
  const platform = createRedisPlatform({ service: 'auth', url: config.REDIS_URL, config, logger, registry: metrics.registry });
  const { redis } = platform;
  const keys = createKeyStore(pool, config.AUTH_KEY_SECRET);
  const rotationMs = config.KEY_ROTATION_DAYS * 86_400_000;
  await keys.ensure(rotationMs);
  const revocations = new Revocations(ACCESS_TOKEN.lifetimeSeconds * 1000);
  await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
  await revocations.follow(redis, subscriber, logger);
  const windowSeconds = 15 * 60;
  const refreshTtlSeconds = config.REFRESH_TOKEN_DAYS * 86_400;
  // Sign-ins live in PostgreSQL; Redis carries only the access-token deny-list (Revocations).
  const refreshTokens = createRefreshTokens({
    pool,
    ttlSeconds: refreshTtlSeconds,
    serverSecret: config.AUTH_KEY_SECRET,
    ...(refreshGraceMs === undefined ? {} : { graceMs: refreshGraceMs }),
  });
  const router = createAuthRouter({
    users: createUserStore(pool),
    keys,
    refreshTokens,
    redis,
    loginLimits: {
      perAccount: new RateLimiter({
        redis,
        keyPrefix: 'auth:login',
        points: 10,
        windowSeconds,
        mode: 'closed',
        registry: metrics.registry,
        logger,
      }),
      perAddress: new RateLimiter({
        redis,
        keyPrefix: 'auth:login',
        points: 50,
        windowSeconds,
        mode: 'closed',
        registry: metrics.registry,
        logger,
      }),
    },
    scryptCost: config.SCRYPT_COST,
    dummyHash: await dummyHash(config.SCRYPT_COST),
    refreshTtlSeconds,
    cookieSecure: config.COOKIE_SECURE,
  });
  const service = createService({
    name: 'auth',
    router,
    config,
    logger,
    metrics,
    rateLimiter: platform.rateLimiter,
    idempotency: platform.idempotency,
    verifyAccessToken: createAccessTokenVerifier({
      keys: ownKeys(keys),
      revokedBefore: revocations.revokedBefore,
      sessionRevoked: revocations.sessionRevoked,
    }),
    routes: {
      '/.well-known/jwks.json': async (_req, res) => {
        res.setHeader('cache-control', 'public, max-age=60');
        sendJson(res, 200, await keys.jwks());
      },
    },
    dependencies: { postgres: () => pool.query('SELECT 1'), redis: () => redis.ping() },
  });
  service.onClose('redis', () => platform.close());
  // Rotation is checked hourly by every instance; the advisory lock makes one of them rotate.
  // Expired sign-ins are deleted at the same pace.
  const hourly = setInterval(() => {
    void keys.ensure(rotationMs).catch((err: unknown) => logger.error({ err }, 'key rotation failed'));
    void refreshTokens.prune().catch((err: unknown) => logger.error({ err }, 'pruning expired sign-ins failed'));
  }, 3_600_000);
  hourly.unref();
  service.onClose('hourly-upkeep', () => clearInterval(hourly));
  return { service, keys, redis };
}
