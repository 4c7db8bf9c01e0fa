import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, prettyLogs } from '@switchyard/infra/config';
import { createPgPool, migrate, startEmbeddedPostgres } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { startTracing } from '@switchyard/infra/otel-sdk';
import { createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv, type ActivityConfig } from './env.js';
import { createActivityService } from './server.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

function configOrExit(): ActivityConfig {
  try {
    return readEnv();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`activity: ${err.message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const logger = createLogger({ service: 'activity', level: config.LOG_LEVEL, pretty: prettyLogs(config) });
const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
  ? startTracing({ service: 'activity', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT })
  : undefined;

let databaseUrl = config.DATABASE_URL;
const embedded = databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: resolve(config.DATA_DIR) }) : undefined;
if (embedded) {
  logger.warn({ dataDir: resolve(config.DATA_DIR) }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  databaseUrl = embedded.url;
}
await migrate({ databaseUrl: databaseUrl!, dir: MIGRATIONS_DIR, logger });
const pool = createPgPool({ connectionString: databaseUrl!, max: embedded ? 4 : 10, applicationName: 'activity' }, (err) =>
  logger.warn({ err }, 'idle database connection failed'),
);
const redis = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'activity-consumer', logger });
const { service, startConsumer } = createActivityService({ config, pool, redis, logger });
if (tracing) service.onClose('tracing', () => tracing.shutdown());
if (embedded) service.onClose('embedded-postgres', () => embedded.close());
service.onClose('postgres-pool', () => pool.end());
service.onClose('redis', () => redis.quit().catch(() => redis.disconnect()));
exitOnSignals(service, logger);
const consumer = await startConsumer();
// Stop taking events before the pool and Redis close (resources close in reverse order).
service.onClose('consumer', () => consumer.stop());
await service.start();
