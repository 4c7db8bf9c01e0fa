import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../db/embedded.js';

/** A database made for one test run, dropped by `drop()`. */
export interface TestDatabase {
  readonly url: string;
  /** `postgres` for a real server, `pglite` for the embedded fallback. */
  readonly kind: 'postgres' | 'pglite';
  /** Which database it is, as printed: `postgres (server on 127.0.0.1:5432)` or `pglite`. */
  readonly description: string;
  drop(): Promise<void>;
}

/** The server tests use when it answers; override with `TEST_POSTGRES_URL`. */
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function serverAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh database for a test run: on the real PostgreSQL server when one answers (a new
 * database `switchyard_test_<random>`), else an in-memory PGlite behind its socket server.
 * `TEST_DATABASE=postgres` asks for the server and fails when none answers; `TEST_DATABASE=pglite`
 * asks for PGlite. The result's `kind` says which it is, and the test's output says it too
 * (`database: ...`).
 */
export async function createTestDatabase(adminUrl = process.env.TEST_POSTGRES_URL ?? DEFAULT_ADMIN_URL): Promise<TestDatabase> {
  const database = await makeDatabase(adminUrl);
  // eslint-disable-next-line no-console -- a test's output names the database it ran on
  console.log(`database: ${database.description}`);
  return database;
}

async function makeDatabase(adminUrl: string): Promise<TestDatabase> {
  const wanted = process.env.TEST_DATABASE;
  if (wanted !== undefined && wanted !== '' && wanted !== 'postgres' && wanted !== 'pglite') {
    throw new Error(`TEST_DATABASE must be postgres or pglite, not ${wanted}`);
  }
  const server = wanted !== 'pglite' && (await serverAnswers(adminUrl));
  if (wanted === 'postgres' && !server) {
    throw new Error(`TEST_DATABASE=postgres: no PostgreSQL server answers at ${new URL(adminUrl).host} (set TEST_POSTGRES_URL)`);
  }
  if (server) {
    const name = `switchyard_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      kind: 'postgres',
      description: `postgres (server on ${url.host})`,
      async drop() {
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await client.end();
      },
    };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: 'memory://' });
  return { url: embedded.url, kind: 'pglite', description: 'pglite', drop: () => embedded.close() };
}
