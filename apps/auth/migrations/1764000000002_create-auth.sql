-- Up Migration
CREATE TABLE users (
  id uuid PRIMARY KEY,
  -- Normalised (trimmed, lower-case) by the service before it gets here.
  email text NOT NULL UNIQUE CHECK (email = lower(email) AND char_length(email) <= 254),
  password_hash text NOT NULL,
  roles text[] NOT NULL DEFAULT '{member}',
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL,
  public_jwk jsonb NOT NULL,
  -- AES-256-GCM under AUTH_KEY_SECRET: the database alone cannot sign tokens.
  private_jwk_sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set when a newer key takes over signing; the key still verifies until its last token expires.
  retired_at timestamptz
);

-- Down Migration
DROP TABLE signing_keys;
DROP TABLE users;
