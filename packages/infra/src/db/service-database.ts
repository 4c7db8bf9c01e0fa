import { resolve } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { createPgPool } from './pool.js';

/** Options of {@link openServiceDatabase}. */
export interface ServiceDatabaseOptions {
  service: string;
  /** The service's own database; unset, an embedded PostgreSQL (PGlite) in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  migrationsDir: string;
  /** Pool size against a real server (the embedded one gets 4). */
  poolMax: number;
  logger: Logger;
}

/** A service's database, migrated, behind a bounded pool. */
export interface ServiceDatabase {
  readonly pool: pg.Pool;
  readonly url: string;
  /** Closes the pool, then the embedded server if there is one. */
  close(): Promise<void>;
}

/**
 * Opens a service's database the way every service does: `DATABASE_URL` when set, else an
 * embedded PostgreSQL (and says so), migrations applied, a bounded pool.
 */
export async function openServiceDatabase(options: ServiceDatabaseOptions): Promise<ServiceDatabase> {
  const { logger } = options;
  const dataDir = resolve(options.dataDir);
  const embedded = options.databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir }) : undefined;
  if (embedded) logger.warn({ dataDir }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  const url = options.databaseUrl ?? embedded!.url;
  await migrate({ databaseUrl: url, dir: options.migrationsDir, logger });
  const pool = createPgPool(
    { connectionString: url, max: embedded ? 4 : options.poolMax, applicationName: options.service },
    (err) => logger.warn({ err }, 'idle database connection failed'),
  );
  return {
    pool,
    url,
    async close() {
      await pool.end();
      await embedded?.close();
    },
  };
}
