import { resolve } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import { migrateInWorker } from './migrate-in-worker.js';
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
  // PGlite (a WASM PostgreSQL, ~1 MB of code) is loaded only when it is used: a service with a
  // real server does not keep it in memory.
  const embedded =
    options.databaseUrl === undefined
      ? await import('./embedded.js').then(({ startEmbeddedPostgres }) => startEmbeddedPostgres({ dataDir }))
      : undefined;
  if (embedded) logger.warn({ dataDir }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  const url = options.databaseUrl ?? embedded!.url;
  await migrateInWorker({ databaseUrl: url, dir: options.migrationsDir, logger });
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
