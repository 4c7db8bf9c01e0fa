import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** A running embedded PostgreSQL, reached with the ordinary `pg` driver at `url`. */
export interface EmbeddedPostgres {
  readonly url: string;
  close(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Where the data lives; `memory://` keeps it in memory. */
  dataDir: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** Connections served at once (queries are queued across them). @default 8 */
  maxConnections?: number;
}

/**
 * Starts PGlite behind `@electric-sql/pglite-socket`: a real PostgreSQL (compiled to WASM) that
 * speaks the wire protocol, so services use the same `pg` code path as against a server. For
 * development and tests on machines without a PostgreSQL server.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  if (!options.dataDir.startsWith('memory://')) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const host = options.host ?? '127.0.0.1';
  const server = new PGLiteSocketServer({ db, host, port: options.port ?? 0, maxConnections: options.maxConnections ?? 8 });
  await server.start();
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  return {
    url: `postgres://postgres@${host}:${port}/postgres?sslmode=disable`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
