import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { captureLogs } from '../testing/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { migrateInWorker } from './migrate-in-worker.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

function migrations(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe('migrations in a worker thread', () => {
  it('applies pending migrations once, logs through the service logger, and reports a failing one', async () => {
    const logs = captureLogs();
    const logger = createLogger({ service: 'migrate-test', level: 'debug', destination: logs.stream });
    const files = {
      '001_first.sql':
        '-- Up Migration\ncreate table first_table (id int primary key);\n-- Down Migration\ndrop table first_table;\n',
      '002_second.sql': '-- Up Migration\ninsert into first_table values (1);\n-- Down Migration\ndelete from first_table;\n',
    };
    const dir = migrations(files);
    expect(await migrateInWorker({ databaseUrl: db.url, dir, logger })).toEqual(['001_first', '002_second']);
    // Run again: nothing pending.
    expect(await migrateInWorker({ databaseUrl: db.url, dir, logger })).toEqual([]);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      expect((await client.query('select id from first_table')).rows).toEqual([{ id: 1 }]);
    } finally {
      await client.end();
    }
    // The worker's lines reach the service's logger; it never fell back to this thread.
    expect(logs.lines().find((l) => l.msg === 'migrations applied')).toMatchObject({ migrations: ['001_first', '002_second'] });
    expect(logs.text()).not.toContain('migration worker unavailable');

    const broken = migrations({
      ...files,
      '003_broken.sql': '-- Up Migration\ncreate tabel nope (id int);\n-- Down Migration\n',
    });
    await expect(migrateInWorker({ databaseUrl: db.url, dir: broken, logger })).rejects.toThrow(/syntax error/);
  });
});
