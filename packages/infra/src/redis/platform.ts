import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServiceEnv } from '../config/config.js';
import { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { createRedisClient, quitRedis, type Redis } from './redis-client.js';

/** What a service gets from Redis: its request connection, a shared rate limit, idempotency keys. */
export interface RedisPlatform {
  readonly redis: Redis;
  readonly rateLimiter: RateLimiter;
  readonly idempotency: IdempotencyStore;
  close(): Promise<void>;
}

/**
 * The Redis-backed pieces every service uses, from its settings: keys prefixed with the service
 * name, the rate limit from `RATE_LIMIT_*` and `INSTANCE_COUNT`.
 * @example const platform = createRedisPlatform({ service: 'notes', url: config.REDIS_URL, config, logger, registry });
 */
export function createRedisPlatform(options: {
  service: string;
  url: string;
  config: ServiceEnv;
  logger: Logger;
  registry: Registry;
}): RedisPlatform {
  const { service, config, logger, registry } = options;
  // Decisions time out on their own (lag-aware, 200 ms); the client's timeout is only a backstop.
  const redis = createRedisClient({
    url: options.url,
    role: 'request',
    name: `${service}-request`,
    logger,
    registry,
    commandTimeoutMs: 1_000,
  });
  return {
    redis,
    rateLimiter: new RateLimiter({
      redis,
      keyPrefix: `${service}:rl`,
      points: config.RATE_LIMIT_POINTS,
      windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
      mode: config.RATE_LIMIT_MODE,
      instances: config.INSTANCE_COUNT,
      registry,
      logger,
    }),
    idempotency: new IdempotencyStore({ redis, prefix: `${service}:idem`, registry, logger }),
    close: () => quitRedis(redis),
  };
}
