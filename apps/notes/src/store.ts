import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Note } from '@switchyard/api-contracts';
import { SwitchyardError, invalidField } from '@switchyard/infra/errors';

interface NoteRow {
  id: string;
  seq: string;
  owner_id: string;
  title: string;
  body: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, seq, owner_id, title, body, version, created_at, updated_at';

const toNote = (row: NoteRow): Note => ({
  id: row.id,
  ownerId: row.owner_id,
  title: row.title,
  body: row.body,
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const CURSOR = /^v1\.(\d{1,18})$/;

/** The page cursor: opaque to callers, the insertion sequence of the last note seen. */
function encodeCursor(seq: string): string {
  return Buffer.from(`v1.${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1]) throw invalidField('cursor', 'not a cursor this service issued');
  return match[1];
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '53300']);

/** Database faults the caller can do nothing about but retry become UNAVAILABLE, not INTERNAL. */
async function run<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SwitchyardError) throw err;
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : '';
    if ((code && CONNECTION_ERRORS.has(code)) || /timeout exceeded when trying to connect|Connection terminated/i.test(message)) {
      throw new SwitchyardError('UNAVAILABLE', 'The notes database is unavailable', { cause: err });
    }
    throw err;
  }
}

/** Notes in PostgreSQL. Every read and write is scoped to the owner: another owner's note is NOT_FOUND. */
export interface NotesStore {
  create(input: { ownerId: string; title: string; body: string }): Promise<Note>;
  get(ownerId: string, id: string): Promise<Note>;
  list(input: {
    ownerId: string;
    limit: number;
    cursor?: string | undefined;
  }): Promise<{ items: Note[]; nextCursor: string | null }>;
  update(input: {
    ownerId: string;
    id: string;
    title?: string | undefined;
    body?: string | undefined;
    expectedVersion?: number | undefined;
  }): Promise<Note>;
  delete(ownerId: string, id: string): Promise<{ id: string }>;
}

const notFound = () => new SwitchyardError('NOT_FOUND', 'Note not found');

/** The notes store over a `pg` pool. */
export function createNotesStore(pool: pg.Pool): NotesStore {
  return {
    create: ({ ownerId, title, body }) =>
      run(async () => {
        const { rows } = await pool.query<NoteRow>(
          `INSERT INTO notes (id, owner_id, title, body) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
          [randomUUID(), ownerId, title, body],
        );
        return toNote(rows[0]!);
      }),

    get: (ownerId, id) =>
      run(async () => {
        const { rows } = await pool.query<NoteRow>(`SELECT ${COLUMNS} FROM notes WHERE id = $1 AND owner_id = $2`, [id, ownerId]);
        if (!rows[0]) throw notFound();
        return toNote(rows[0]);
      }),

    list: ({ ownerId, limit, cursor }) =>
      run(async () => {
        const after = cursor === undefined ? null : decodeCursor(cursor);
        const { rows } = await pool.query<NoteRow>(
          `SELECT ${COLUMNS} FROM notes
           WHERE owner_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint)
           ORDER BY seq DESC LIMIT $3`,
          [ownerId, after, limit + 1],
        );
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return { items: page.map(toNote), nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
      }),

    update: ({ ownerId, id, title, body, expectedVersion }) =>
      run(async () => {
        const { rows } = await pool.query<NoteRow>(
          `UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body), version = version + 1, updated_at = now()
           WHERE id = $1 AND owner_id = $2 AND ($5::int IS NULL OR version = $5::int)
           RETURNING ${COLUMNS}`,
          [id, ownerId, title ?? null, body ?? null, expectedVersion ?? null],
        );
        if (rows[0]) return toNote(rows[0]);
        if (expectedVersion !== undefined) {
          const current = await pool.query<{ version: number }>('SELECT version FROM notes WHERE id = $1 AND owner_id = $2', [
            id,
            ownerId,
          ]);
          if (current.rows[0]) {
            throw new SwitchyardError('CONFLICT', `Note is at version ${current.rows[0].version}, not ${expectedVersion}`);
          }
        }
        throw notFound();
      }),

    delete: (ownerId, id) =>
      run(async () => {
        const { rowCount } = await pool.query('DELETE FROM notes WHERE id = $1 AND owner_id = $2', [id, ownerId]);
        if (!rowCount) throw notFound();
        return { id };
      }),
  };
}
