-- Up Migration
CREATE TABLE notes (
  id uuid PRIMARY KEY,
  -- Insertion order, for stable cursor pagination.
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  owner_id uuid NOT NULL,
  title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  body text NOT NULL CHECK (char_length(body) <= 10000),
  version integer NOT NULL DEFAULT 1 CHECK (version > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_owner_seq_idx ON notes (owner_id, seq DESC);

-- Down Migration
DROP TABLE notes;
