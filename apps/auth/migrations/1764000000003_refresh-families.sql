-- Up Migration
-- A sign-in: the chain of refresh tokens one login starts. These rows, not Redis, are the record of
-- sign-ins: a refresh checks and rotates here under the family's row lock, so no Redis restore,
-- flush or failover can bring a revoked sign-in back.
CREATE TABLE refresh_families (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The token that rotates; its predecessor gets the same successor back only within the grace period.
  current_token_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Moves forward on every rotation: a sign-in left unused this long ends.
  expires_at timestamptz NOT NULL,
  -- Logout, logout everywhere, a disabled user, or a refresh token used again after the grace period.
  revoked_at timestamptz
);
CREATE INDEX refresh_families_user_id ON refresh_families (user_id);

-- Every token a family has had, by hash only: an earlier token presented again is recognised as reuse.
CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY,
  family_id uuid NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
  -- SHA-256 of the token's secret (base64url); the token itself is never stored.
  secret_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- When its successor was issued; NULL while it is its family's current token.
  rotated_at timestamptz
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- Down Migration
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
