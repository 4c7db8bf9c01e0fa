import { fileURLToPath } from 'node:url';
import { configOrExit, prettyLogs } from '@switchyard/infra/config';
import { openServiceDatabase } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { startTracing } from '@switchyard/infra/otel-sdk';
import { createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv } from './env.js';
import { createAuthService } from './server.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

const config = configOrExit('auth', () => readEnv());
const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL, pretty: prettyLogs(config) });
const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
  ? startTracing({ service: 'auth', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT })
  : undefined;

const db = await openServiceDatabase({
  service: 'auth',
  databaseUrl: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  migrationsDir: MIGRATIONS_DIR,
  poolMax: 10,
  logger,
});
const { pool } = db;
const subscriber = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'auth-subscriber', logger });
const { service } = await createAuthService({ config, pool, subscriber, logger });
if (tracing) service.onClose('tracing', () => tracing.shutdown());
service.onClose('database', () => db.close());
service.onClose('redis-subscriber', () => subscriber.quit().catch(() => subscriber.disconnect()));
exitOnSignals(service, logger);
await service.start();
