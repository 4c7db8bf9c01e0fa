import pg from 'pg';

/** Options of {@link createPgPool}. */
export interface CreatePgPoolOptions {
  connectionString: string;
  /** Most connections open at once. @default 10 */
  max?: number;
  /** How long to wait for a connection before failing, in ms. @default 2000 */
  connectionTimeoutMs?: number;
  /** Server-side limit on one statement, in ms. @default 5000 */
  statementTimeoutMs?: number;
  /** The name the server shows for these connections. */
  applicationName?: string;
}

/**
 * A bounded `pg` pool: fixed size, connection and statement timeouts, so a slow database shows
 * as errors rather than a growing queue. An idle client's error is reported, never a crash.
 */
export function createPgPool(options: CreatePgPoolOptions, onIdleError?: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 5_000,
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
  });
  pool.on('error', (err) => onIdleError?.(err));
  return pool;
}
