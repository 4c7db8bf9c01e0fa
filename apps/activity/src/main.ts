import { fileURLToPath } from 'node:url';
import { createUserVerification } from '@switchyard/infra/auth';
import { quitRedis, createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { bootService } from '@switchyard/infra/boot';
import { readEnv } from './env.js';
import { createActivityService } from './server.js';

const { config, logger, pool, adopt } = await bootService({
  service: 'activity',
  readEnv,
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
});
const redis = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'activity-consumer', logger });
// Revocations need a request connection and a subscriber; the consumer's blocking connection is its own.
const requests = createRedisClient({ url: config.REDIS_URL, role: 'request', name: 'activity-request', logger });
const subscriber = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'activity-subscriber', logger });
const verifyAccessToken = await createUserVerification({ authUrl: config.AUTH_URL, redis: requests, subscriber, logger });
const { service, startConsumer } = createActivityService({
  config,
  pool,
  redis,
  logger,
  verifyAccessToken,
});
adopt(service);
for (const [name, client] of [
  ['redis-request', requests],
  ['redis-subscriber', subscriber],
] as const) {
  service.onClose(name, () => quitRedis(client));
}
service.onClose('redis', () => quitRedis(redis));
exitOnSignals(service, logger);
const consumer = await startConsumer();
// Stop taking events before the pool and Redis close (resources close in reverse order).
service.onClose('consumer', () => consumer.stop());
await service.start();
