// A new service's data side: its router (handlers typed from the contract), its store and its
// first migration.
import type { NewService } from './spec.js';

export function routerSource(s: NewService): string {
  const fromAuth = s.calls.includes('auth');
  return `import { meshContracts } from '@switchyard/api-contracts';
import { implement, type RequestContext } from '@switchyard/infra/trpc';
import type { z } from 'zod';
import type { ${s.Name}Store } from './store.js';

/** One record, as the contract's \`record\` returns it. */
export type ${s.Name}Record = z.output<(typeof meshContracts)['${s.name}']['record']['output']>;

/** A user's email${fromAuth ? " from auth's getUser" : ''}: \`null\` when it cannot be known. */
export type EmailLookup = (ctx: RequestContext, userId: string) => Promise<string | null>;

/** What the router needs. */
export interface ${s.Name}RouterDeps {
  store: ${s.Name}Store;
  email?: EmailLookup | undefined;
}

/** The ${s.name} router: handlers only, typed from the contract; the owner is the signed-in user. */
export function create${s.Name}Router({ store, email }: ${s.Name}RouterDeps) {
  const ownerOf = (ctx: RequestContext) => ctx.user!.id;
  return implement(meshContracts.${s.name}, {
    hello: async ({ ctx }) => ({
      service: '${s.name}' as const,
      userId: ownerOf(ctx),
      email: email ? await email(ctx, ownerOf(ctx)) : null,
      records: await store.count(ownerOf(ctx)),
    }),
    record: ({ input, ctx }) => store.add(ownerOf(ctx), input.label),
  });
}
`;
}

export function storeSource(s: NewService): string {
  if (!s.db) {
    return `import { randomUUID } from 'node:crypto';
import type { ${s.Name}Record } from './router.js';

/** ${s.Name}'s records, in this instance's memory (the service has no database). */
export function create${s.Name}Store() {
  const records: ${s.Name}Record[] = [];
  return {
    add(ownerId: string, label: string): Promise<${s.Name}Record> {
      const record = { id: randomUUID(), ownerId, label, createdAt: new Date() };
      records.push(record);
      return Promise.resolve(record);
    },
    count: (ownerId: string) => Promise.resolve(records.filter((r) => r.ownerId === ownerId).length),
  };
}
export type ${s.Name}Store = ReturnType<typeof create${s.Name}Store>;
`;
  }
  return `import type pg from 'pg';
import type { ${s.Name}Record } from './router.js';

const COLUMNS = 'id, owner_id AS "ownerId", label, created_at AS "createdAt"';

/** ${s.Name}'s records in its own database (migrations/). */
export function create${s.Name}Store(pool: pg.Pool) {
  return {
    async add(ownerId: string, label: string): Promise<${s.Name}Record> {
      const { rows } = await pool.query<${s.Name}Record>(
        \`INSERT INTO ${s.name}_records (id, owner_id, label) VALUES (gen_random_uuid(), $1, $2) RETURNING \${COLUMNS}\`,
        [ownerId, label],
      );
      return rows[0]!;
    },
    async count(ownerId: string): Promise<number> {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ${s.name}_records WHERE owner_id = $1', [ownerId]);
      return rows[0]!.n;
    },
  };
}
export type ${s.Name}Store = ReturnType<typeof create${s.Name}Store>;
`;
}

export const migrationSource = (s: NewService) => `-- Up Migration
CREATE TABLE ${s.name}_records (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL,
  label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ${s.name}_records_owner_idx ON ${s.name}_records (owner_id);

-- Down Migration
DROP TABLE ${s.name}_records;
`;
