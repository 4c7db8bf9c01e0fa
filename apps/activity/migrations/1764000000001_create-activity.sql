-- Up Migration
CREATE TABLE activity (
  -- The event's id: delivery is at least once, so a redelivered event inserts nothing.
  event_id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  owner_id uuid NOT NULL,
  note_id uuid NOT NULL,
  type text NOT NULL CHECK (type IN ('note.created', 'note.updated', 'note.deleted')),
  title text,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX activity_owner_seq_idx ON activity (owner_id, seq DESC);

-- Down Migration
DROP TABLE activity;
