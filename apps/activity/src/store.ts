import type pg from 'pg';
import type { ActivityItem, EventEnvelope, NoteEvent } from '@switchyard/api-contracts';
import { invalidField } from '@switchyard/infra/errors';

const TYPES = {
  'notes.note.created': 'note.created',
  'notes.note.updated': 'note.updated',
  'notes.note.deleted': 'note.deleted',
} as const;

interface Row {
  event_id: string;
  seq: string;
  note_id: string;
  type: ActivityItem['type'];
  title: string | null;
  occurred_at: Date;
}

const CURSOR = /^a1\.(\d{1,18})$/;

/** Each owner's activity in PostgreSQL, one row per event id. */
export function createActivityStore(pool: pg.Pool) {
  return {
    /** Records an event; a repeat of the same event id changes nothing. */
    async record(event: EventEnvelope<NoteEvent>): Promise<void> {
      const title = 'title' in event.payload ? event.payload.title : null;
      await pool.query(
        `INSERT INTO activity (event_id, owner_id, note_id, type, title, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (event_id) DO NOTHING`,
        [event.id, event.payload.ownerId, event.payload.noteId, TYPES[event.type], title, event.occurredAt],
      );
    },

    async feed(input: { ownerId: string; limit: number; cursor?: string | undefined }) {
      let after: string | null = null;
      if (input.cursor !== undefined) {
        const match = CURSOR.exec(Buffer.from(input.cursor, 'base64url').toString('utf8'));
        if (!match?.[1]) throw invalidField('cursor', 'not a cursor this service issued');
        after = match[1];
      }
      const { rows } = await pool.query<Row>(
        `SELECT event_id, seq, note_id, type, title, occurred_at FROM activity
         WHERE owner_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint) ORDER BY seq DESC LIMIT $3`,
        [input.ownerId, after, input.limit + 1],
      );
      const page = rows.slice(0, input.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          eventId: r.event_id,
          type: r.type,
          noteId: r.note_id,
          title: r.title,
          occurredAt: r.occurred_at,
        })),
        nextCursor: rows.length > input.limit && last ? Buffer.from(`a1.${last.seq}`).toString('base64url') : null,
      };
    },
  };
}

export type ActivityStore = ReturnType<typeof createActivityStore>;
