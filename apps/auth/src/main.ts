import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, prettyLogs } from '@switchyard/infra/config';
import { createPgPool, migrate, startEmbeddedPostgres } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { startTracing } from '@switchyard/infra/otel-sdk';
import { createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv, type AuthConfig } from './env.js';
import { createAuthService } from './server.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

function configOrExit(): AuthConfig {
  try {
    return readEnv();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`auth: ${err.message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL, pretty: prettyLogs(config) });
const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
  ? startTracing({ service: 'auth', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT })
  : undefined;

let databaseUrl = config.DATABASE_URL;
const embedded = databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: resolve(config.DATA_DIR) }) : undefined;
if (embedded) {
  logger.warn({ dataDir: resolve(config.DATA_DIR) }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  databaseUrl = embedded.url;
}
await migrate({ databaseUrl: databaseUrl!, dir: MIGRATIONS_DIR, logger });
const pool = createPgPool({ connectionString: databaseUrl!, max: embedded ? 4 : 10, applicationName: 'auth' }, (err) =>
  logger.warn({ err }, 'idle database connection failed'),
);
const subscriber = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'auth-subscriber', logger });
const { service } = await createAuthService({ config, pool, subscriber, logger });
if (tracing) service.onClose('tracing', () => tracing.shutdown());
if (embedded) service.onClose('embedded-postgres', () => embedded.close());
service.onClose('postgres-pool', () => pool.end());
service.onClose('redis-subscriber', () => subscriber.quit().catch(() => subscriber.disconnect()));
exitOnSignals(service, logger);
await service.start();
