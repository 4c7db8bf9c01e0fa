import { fileURLToPath } from 'node:url';
import { createEventPublisher } from '@switchyard/infra/events';
import { createMetrics } from '@switchyard/infra/metrics';
import { quitRedis, createRedisClient, createRedisPlatform } from '@switchyard/infra/redis';
import { authContract, notesContract } from '@switchyard/api-contracts';
import { createUserVerification } from '@switchyard/infra/auth';
import { createServiceClient } from '@switchyard/infra/client';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { bootService } from '@switchyard/infra/boot';
import { readEnv } from './env.js';
import { createNotesService } from './server.js';

const { config, logger, pool, adopt } = await bootService({
  service: 'notes',
  readEnv,
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
  poolMax: (config) => config.DB_POOL_MAX,
});
const metrics = createMetrics({ service: 'notes', procedures: Object.keys(notesContract) });
const platform = config.REDIS_URL
  ? createRedisPlatform({ service: 'notes', url: config.REDIS_URL, config, logger, registry: metrics.registry })
  : undefined;
if (!platform) logger.warn('REDIS_URL is not set: no shared rate limit, no Idempotency-Key, no events published');
const redis = platform?.redis;
const subscriber = platform
  ? createRedisClient({ url: config.REDIS_URL!, role: 'blocking', name: 'notes-subscriber', logger })
  : undefined;
// Access tokens from auth's JWKS; revoked sign-ins reach every instance over Redis, requests never wait on it.
const verifyAccessToken = await createUserVerification({ authUrl: config.AUTH_URL, redis: platform?.redis, subscriber, logger });
if (!config.SERVICE_KEY) logger.warn('SERVICE_KEY is not set: notes cannot ask auth for authors');
const auth = config.SERVICE_KEY
  ? createServiceClient({
      target: 'auth',
      contract: authContract,
      url: config.AUTH_URL,
      caller: { service: 'notes', key: config.SERVICE_KEY },
      registry: metrics.registry,
      logger,
    })
  : undefined;
const service = createNotesService({
  config,
  pool,
  logger,
  metrics,
  verifyAccessToken,
  ...(auth ? { auth } : {}),
  ...(platform ? { platform } : {}),
  ...(subscriber ? { subscriber } : {}),
  // Published after the write commits. If Redis is out or slow, the write still stands and the
  // caller gets its answer (failing now would invite a duplicate retry); the lost event is logged
  // and counted. A transactional outbox would close that gap.
  ...(redis ? { publish: createEventPublisher({ redis, logger, registry: metrics.registry }) } : {}),
});
adopt(service);
if (platform) service.onClose('redis', () => platform.close());
if (subscriber) service.onClose('redis-subscriber', () => quitRedis(subscriber));
exitOnSignals(service, logger);
await service.start();
