import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { User } from '@switchyard/api-contracts';

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  roles: string[];
  disabled: boolean;
  created_at: Date;
}

const toUser = (r: UserRow): User => ({ id: r.id, email: r.email, roles: r.roles, createdAt: r.created_at });

/** Accounts in the auth database. Emails arrive normalised (trimmed, lower-case). */
export function createUserStore(pool: pg.Pool) {
  return {
    /** Creates the account; `false` when the email is taken (the caller must not say so). */
    async create(email: string, passwordHash: string): Promise<boolean> {
      const { rowCount } = await pool.query(
        'INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING',
        [randomUUID(), email, passwordHash],
      );
      return rowCount === 1;
    },
    async byEmail(email: string): Promise<(User & { passwordHash: string; disabled: boolean }) | undefined> {
      const { rows } = await pool.query<UserRow>('SELECT * FROM users WHERE email = $1', [email]);
      return rows[0] ? { ...toUser(rows[0]), passwordHash: rows[0].password_hash, disabled: rows[0].disabled } : undefined;
    },
    /** Disables the account; `false` when there is none. */
    async disable(id: string): Promise<boolean> {
      const { rowCount } = await pool.query('UPDATE users SET disabled = true WHERE id = $1', [id]);
      return rowCount === 1;
    },
    async byId(id: string): Promise<(User & { disabled: boolean }) | undefined> {
      const { rows } = await pool.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return rows[0] ? { ...toUser(rows[0]), disabled: rows[0].disabled } : undefined;
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
