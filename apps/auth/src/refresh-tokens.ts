import { timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import {
  createSuccessorDeriver,
  firstRefreshToken,
  parseRefreshToken,
  secretHash,
  type RefreshTokenParts,
} from './refresh-token-format.js';

/** How long after a rotation the rotated token still gets the same successor, in ms (concurrent refreshes: tabs). */
export const REFRESH_GRACE_MS = 10_000;

/** The outcome of using a refresh token. */
export type RefreshOutcome =
  | { ok: true; userId: string; token: string; family: string }
  | {
      ok: false;
      /**
       * `superseded`: a token rotated within the grace period whose family has since moved on by
       * more than one step; refused without revoking anything.
       */
      reason: 'unknown' | 'reused' | 'revoked' | 'superseded';
      userId?: string;
      family?: string;
    };

/** Options of {@link createRefreshTokens}. */
export interface RefreshTokensOptions {
  pool: pg.Pool;
  /** A sign-in unused for this long ends, in seconds. */
  ttlSeconds: number;
  /** The server secret the successor key is derived from (AUTH_KEY_SECRET). */
  serverSecret: string;
  /** @default REFRESH_GRACE_MS (10 s) */
  graceMs?: number;
}

interface FamilyRow {
  user_id: string;
  current_token_id: string;
  ended: boolean;
}

interface TokenRow {
  secret_hash: string;
  in_grace: boolean | null;
}

/** The last transaction started on each pool (see {@link oneAtATime}). */
const lastOnPool = new WeakMap<pg.Pool, Promise<unknown>>();

/**
 * Runs a pool's refresh transactions one after another. The embedded database (PGlite behind its
 * socket server, `npm run dev`'s default) multiplexes every connection over one session, where
 * transactions of two connections would interleave; on a PostgreSQL server the family's row lock
 * already orders them, and refreshes are rare enough that waiting costs nothing.
 */
function oneAtATime<T>(pool: pg.Pool, work: () => Promise<T>): Promise<T> {
  const run = (lastOnPool.get(pool) ?? Promise.resolve()).then(work, work);
  lastOnPool.set(
    pool,
    run.catch(() => undefined),
  );
  return run;
}

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Refresh tokens (`rt1.<family>.<id>.<secret>`, opaque), recorded in PostgreSQL: each sign-in is a
 * family row with its current token, every token kept as a hash. A refresh locks the family row
 * (`SELECT ... FOR UPDATE`), so it is atomic across instances, and no Redis restore, flush or
 * failover can bring a revoked sign-in back. Access tokens are revoked through Redis (the
 * `Revocations` deny-list); after a Redis data loss their exposure stays bounded by their
 * lifetime (5 min).
 *
 * Each use rotates the token. The successor is derived from the presented token, so the same
 * token presented again within `graceMs` of its rotation (two tabs refreshing at once) gets the
 * same successor, never a second valid one; once the family has moved on further it is refused
 * without revoking. After `graceMs`, any earlier token of a family revokes the whole family.
 *
 * @example
 * const refreshTokens = createRefreshTokens({ pool, ttlSeconds: 30 * 86_400, serverSecret: config.AUTH_KEY_SECRET });
 */
export function createRefreshTokens({ pool, ttlSeconds, serverSecret, graceMs = REFRESH_GRACE_MS }: RefreshTokensOptions) {
  if (!(Number.isInteger(graceMs) && graceMs >= 0)) throw new RangeError('graceMs: expected a whole number of ms >= 0');
  const successorOf = createSuccessorDeriver(serverSecret);

  /**
   * Locks the family of a genuine token (its secret checked) until commit: the family and the
   * token's rotation state, or `undefined`. The token is read by a statement of its own, after
   * the lock: a statement that waited for the lock sees the family's new version but not the
   * token rows of the rotation it waited for.
   */
  const lockFamily = async (client: pg.PoolClient, parts: RefreshTokenParts) => {
    const family = (
      await client.query<FamilyRow>(
        `SELECT user_id, current_token_id, revoked_at IS NOT NULL OR expires_at <= clock_timestamp() AS ended
           FROM refresh_families WHERE id = $1 FOR UPDATE`,
        [parts.family],
      )
    ).rows[0];
    if (!family) return undefined;
    const token = (
      await client.query<TokenRow>(
        `SELECT secret_hash, rotated_at > clock_timestamp() - $3::int * interval '1 millisecond' AS in_grace
           FROM refresh_tokens WHERE id = $1 AND family_id = $2`,
        [parts.id, parts.family, graceMs],
      )
    ).rows[0];
    return token && sameHash(token.secret_hash, secretHash(parts.secret))
      ? { ...family, inGrace: token.in_grace === true }
      : undefined;
  };

  const inTransaction = <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
    oneAtATime(pool, async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    });

  return {
    /** A new family for a sign-in: its first token and the family (session) id. */
    async issue(userId: string): Promise<{ token: string; family: string }> {
      const first = firstRefreshToken();
      await pool.query(
        `WITH family AS (
           INSERT INTO refresh_families (id, user_id, current_token_id, expires_at)
           VALUES ($1, $2, $3, now() + $5::int * interval '1 second')
         )
         INSERT INTO refresh_tokens (id, family_id, secret_hash) VALUES ($3, $1, $4)`,
        [first.family, userId, first.id, secretHash(first.secret), ttlSeconds],
      );
      return { token: first.token, family: first.family };
    },

    /** Uses a refresh token: its successor, or why not. */
    async rotate(token: string): Promise<RefreshOutcome> {
      const parts = parseRefreshToken(token);
      if (!parts) return { ok: false, reason: 'unknown' };
      const { family } = parts;
      return inTransaction(async (client): Promise<RefreshOutcome> => {
        const row = await lockFamily(client, parts);
        if (!row) return { ok: false, reason: 'unknown', family };
        if (row.ended) return { ok: false, reason: 'revoked', family, userId: row.user_id };
        const next = successorOf(parts);
        if (row.current_token_id === parts.id) {
          await client.query(
            `WITH used AS (UPDATE refresh_tokens SET rotated_at = clock_timestamp() WHERE id = $1),
                  moved AS (UPDATE refresh_families SET current_token_id = $2, expires_at = now() + $5::int * interval '1 second' WHERE id = $3)
             INSERT INTO refresh_tokens (id, family_id, secret_hash) VALUES ($2, $3, $4)`,
            [parts.id, next.id, family, secretHash(next.secret), ttlSeconds],
          );
          return { ok: true, userId: row.user_id, token: next.token, family };
        }
        if (row.inGrace) {
          return next.id === row.current_token_id
            ? { ok: true, userId: row.user_id, token: next.token, family }
            : { ok: false, reason: 'superseded', family, userId: row.user_id };
        }
        await client.query('UPDATE refresh_families SET revoked_at = clock_timestamp() WHERE id = $1', [family]);
        return { ok: false, reason: 'reused', family, userId: row.user_id };
      });
    },

    /** Ends the sign-in (family) of a genuine token of it, current or earlier; returns the family id. */
    async revokeFamilyOf(token: string): Promise<string | undefined> {
      const parts = parseRefreshToken(token);
      if (!parts) return undefined;
      return inTransaction(async (client) => {
        if (!(await lockFamily(client, parts))) return undefined;
        await client.query('UPDATE refresh_families SET revoked_at = clock_timestamp() WHERE id = $1 AND revoked_at IS NULL', [
          parts.family,
        ]);
        return parts.family;
      });
    },

    /** Ends every sign-in of a user. */
    async revokeAll(userId: string): Promise<void> {
      await pool.query('UPDATE refresh_families SET revoked_at = clock_timestamp() WHERE user_id = $1 AND revoked_at IS NULL', [
        userId,
      ]);
    },

    /** Deletes the families (and their tokens) past their expiry; returns how many. */
    async prune(): Promise<number> {
      const { rowCount } = await pool.query('DELETE FROM refresh_families WHERE expires_at < now()');
      return rowCount ?? 0;
    },
  };
}

/** The refresh-token store of {@link createRefreshTokens}. */
export type RefreshTokens = ReturnType<typeof createRefreshTokens>;
