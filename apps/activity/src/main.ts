import { fileURLToPath } from 'node:url';
import { configOrExit, prettyLogs } from '@switchyard/infra/config';
import { openServiceDatabase } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { startTracing } from '@switchyard/infra/otel-sdk';
import { createUserVerification } from '@switchyard/infra/auth';
import { createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv } from './env.js';
import { createActivityService } from './server.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

const config = configOrExit('activity', () => readEnv());
const logger = createLogger({ service: 'activity', level: config.LOG_LEVEL, pretty: prettyLogs(config) });
const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
  ? startTracing({ service: 'activity', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT })
  : undefined;

const db = await openServiceDatabase({
  service: 'activity',
  databaseUrl: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  migrationsDir: MIGRATIONS_DIR,
  poolMax: 10,
  logger,
});
const { pool } = db;
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
for (const [name, client] of [
  ['redis-request', requests],
  ['redis-subscriber', subscriber],
] as const) {
  service.onClose(name, () => client.quit().catch(() => client.disconnect()));
}
if (tracing) service.onClose('tracing', () => tracing.shutdown());
service.onClose('database', () => db.close());
service.onClose('redis', () => redis.quit().catch(() => redis.disconnect()));
exitOnSignals(service, logger);
const consumer = await startConsumer();
// Stop taking events before the pool and Redis close (resources close in reverse order).
service.onClose('consumer', () => consumer.stop());
await service.start();
