import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from './test-database.js';

// Which database a test runs on is what was asked for, or the run fails: never a silent fallback.
const saved = process.env.TEST_DATABASE;
afterEach(() => {
  if (saved === undefined) delete process.env.TEST_DATABASE;
  else process.env.TEST_DATABASE = saved;
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('createTestDatabase', () => {
  it('fails at once when TEST_DATABASE=postgres and no server answers', async () => {
    process.env.TEST_DATABASE = 'postgres';
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`;
    await expect(createTestDatabase(url)).rejects.toThrow(
      /^TEST_DATABASE=postgres: no PostgreSQL server answers at 127\.0\.0\.1:\d+/,
    );
  });

  it('gives PGlite when TEST_DATABASE=pglite, and says so', async () => {
    process.env.TEST_DATABASE = 'pglite';
    const db = await createTestDatabase();
    try {
      expect(db.kind).toBe('pglite');
    } finally {
      await db.drop();
    }
  });

  it('falls back to PGlite without TEST_DATABASE only when no server answers, and says which it used', async () => {
    delete process.env.TEST_DATABASE;
    const db = await createTestDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/postgres`);
    try {
      expect(db.kind).toBe('pglite');
    } finally {
      await db.drop();
    }
  });

  it('refuses a TEST_DATABASE it does not know', async () => {
    process.env.TEST_DATABASE = 'mysql';
    await expect(createTestDatabase()).rejects.toThrow('TEST_DATABASE must be postgres or pglite, not mysql');
  });
});
