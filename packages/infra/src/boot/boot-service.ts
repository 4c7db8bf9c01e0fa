import type pg from 'pg';
import type { Logger } from 'pino';
import { configOrExit, prettyLogs, type ServiceEnv } from '../config/index.js';
import { openServiceDatabase } from '../db/service-database.js';
import { createLogger } from '../logging/logger.js';
import type { Service } from '../server/service.js';

/** What a service's entry point starts with. */
export interface BootedService<C> {
  readonly config: C;
  readonly logger: Logger;
  /** The service's own database, migrated. */
  readonly pool: pg.Pool;
  /** Hands the database and tracing to `service`, so they close last, after everything it adds. */
  adopt(service: Service): void;
}

/**
 * The start-up every service's `main.ts` shares: its configuration (one line and exit 1 when bad),
 * the logger, the tracing SDK when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and its database
 * (`DATABASE_URL`, else the embedded one) migrated behind a bounded pool.
 * For entry points only: it loads the OpenTelemetry SDK (when tracing is on).
 * @example const { config, logger, pool, adopt } = await bootService({ service: 'notes', readEnv, migrationsDir });
 */
export async function bootService<C extends ServiceEnv & { DATABASE_URL?: string | undefined; DATA_DIR: string }>(options: {
  service: string;
  readEnv: () => C;
  migrationsDir: string;
  /** @default 10 */
  poolMax?: (config: C) => number;
}): Promise<BootedService<C>> {
  const { service } = options;
  const config = configOrExit(service, options.readEnv);
  const logger = createLogger({ service, level: config.LOG_LEVEL, pretty: prettyLogs(config) });
  // The SDK (exporter, resources, semantic conventions: a few MB of code) is loaded only when
  // traces go somewhere; without it a service keeps none of it in memory.
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracing = endpoint
    ? await import('../otel-sdk/start-tracing.js').then(({ startTracing }) => startTracing({ service, endpoint }))
    : undefined;
  const db = await openServiceDatabase({
    service,
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    migrationsDir: options.migrationsDir,
    poolMax: options.poolMax?.(config) ?? 10,
    logger,
  });
  return {
    config,
    logger,
    pool: db.pool,
    adopt(target) {
      if (tracing) target.onClose('tracing', () => tracing.shutdown());
      target.onClose('database', () => db.close());
    },
  };
}
