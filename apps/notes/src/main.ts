import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { ConfigError, prettyLogs } from '@switchyard/infra/config';
import { createPgPool, migrate, startEmbeddedPostgres } from '@switchyard/infra/db';
import { createLogger } from '@switchyard/infra/logging';
import { publishEvent } from '@switchyard/infra/events';
import { startTracing } from '@switchyard/infra/otel-sdk';
import { createMetrics } from '@switchyard/infra/metrics';
import { createRedisPlatform } from '@switchyard/infra/redis';
import { notesContract } from '@switchyard/api-contracts';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv, type NotesConfig } from './env.js';
import { createNotesService } from './server.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

function configOrExit(): NotesConfig {
  try {
    return readEnv();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`notes: ${err.message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const logger = createLogger({ service: 'notes', level: config.LOG_LEVEL, pretty: prettyLogs(config) });
// The tracing SDK belongs to the entry point, and only when there is somewhere to send spans.
const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
  ? startTracing({ service: 'notes', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT })
  : undefined;

let databaseUrl = config.DATABASE_URL;
const embedded = databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: resolve(config.DATA_DIR) }) : undefined;
if (embedded) {
  logger.warn({ dataDir: resolve(config.DATA_DIR) }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  databaseUrl = embedded.url;
}
await migrate({ databaseUrl: databaseUrl!, dir: MIGRATIONS_DIR, logger });
const pool = createPgPool(
  { connectionString: databaseUrl!, max: embedded ? 4 : config.DB_POOL_MAX, applicationName: 'notes' },
  (err) => logger.warn({ err }, 'idle database connection failed'),
);
const metrics = createMetrics({ service: 'notes', procedures: Object.keys(notesContract) });
const platform = config.REDIS_URL
  ? createRedisPlatform({ service: 'notes', url: config.REDIS_URL, config, logger, registry: metrics.registry })
  : undefined;
if (!platform) logger.warn('REDIS_URL is not set: no shared rate limit, no Idempotency-Key, no events published');
const redis = platform?.redis;
const service = createNotesService({
  config,
  pool,
  logger,
  metrics,
  ...(platform ? { platform } : {}),
  ...(redis
    ? {
        // Published after the write commits. If Redis refuses, the write still stands and the caller
        // gets its answer (failing now would invite a duplicate retry); the lost event is logged.
        // A transactional outbox would close that gap.
        publish: (def, payload) =>
          publishEvent(redis, def, payload).catch((err: unknown) =>
            logger.error({ err: { message: (err as Error).message }, event: def.name, payload }, 'event not published'),
          ),
      }
    : {}),
});
if (tracing) service.onClose('tracing', () => tracing.shutdown());
if (embedded) service.onClose('embedded-postgres', () => embedded.close());
service.onClose('postgres-pool', () => pool.end());
if (platform) service.onClose('redis', () => platform.close());
exitOnSignals(service, logger);
await service.start();
