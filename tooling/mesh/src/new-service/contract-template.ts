// The contract a new service starts from: one example query and one example mutation.
import type { NewService } from './spec.js';

export function contractSource(s: NewService): string {
  const fromAuth = s.calls.includes('auth');
  return `import { z } from 'zod';
import { defineContract } from './contract.js';

/** Something ${s.name} keeps for a user: the example of its data. */
export const ${s.Name}RecordSchema = z.object({
  id: z.uuid(),
  ownerId: z.uuid(),
  label: z.string(),
  createdAt: z.date(),
});
export type ${s.Name}Record = z.infer<typeof ${s.Name}RecordSchema>;

export const ${s.name}Contract = defineContract({
  /** The signed-in user as ${s.name} sees them${fromAuth ? ' (their email from auth)' : ''}, and how many records they have. */
  hello: {
    type: 'query',
    input: z.strictObject({}),
    output: z.object({
      service: z.literal('${s.name}'),
      userId: z.uuid(),
      email: z.string().nullable(),
      records: z.number().int().nonnegative(),
    }),
    access: 'user',
  },
  /** Keeps a label for the signed-in user. */
  record: {
    type: 'mutation',
    input: z.strictObject({ label: z.string().trim().min(1).max(200) }),
    output: ${s.Name}RecordSchema,
    access: 'user',
  },
});
export type ${s.Name}Contract = typeof ${s.name}Contract;
`;
}
