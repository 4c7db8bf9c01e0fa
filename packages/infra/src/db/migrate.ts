import { runner } from 'node-pg-migrate';
import type { Logger } from 'pino';

/** Options of {@link migrate}. */
export interface MigrateOptions {
  databaseUrl: string;
  /** The folder of migration files (`.sql` with `-- Up Migration` / `-- Down Migration`). */
  dir: string;
  logger: Logger;
}

/**
 * Applies pending migrations with node-pg-migrate (under its advisory lock, so instances starting
 * together run them once). Returns the names of the migrations applied.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: options.dir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    singleTransaction: true,
    // Instances starting together: the first migrates, the others wait for it (the default fails them).
    advisoryLockMode: 'wait',
    log: (message: string) => options.logger.debug({ migration: message }, 'migration'),
    logger: {
      debug: (m: string) => options.logger.debug(m),
      info: (m: string) => options.logger.debug(m),
      warn: (m: string) => options.logger.warn(m),
      error: (m: string) => options.logger.error(m),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) options.logger.info({ migrations: names }, 'migrations applied');
  return names;
}
