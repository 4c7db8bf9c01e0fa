// Type tests, compiled by `npm run typecheck`. Each `@ts-expect-error` must be needed: the
// type-test check (tooling/type-tests) removes them one file at a time and expects tsc to fail
// on exactly the line below each.
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { NotesRouter } from '../index.js';

const client = createTRPCClient<NotesRouter>({
  links: [httpBatchLink({ url: 'http://127.0.0.1:1/trpc', transformer: superjson })],
});
const id = '00000000-0000-4000-8000-000000000000';

export async function callerTypes(): Promise<void> {
  const note = await client.get.query({ id });
  const title: string = note.title;
  const created: Date = note.createdAt;
  const page = await client.list.query({ limit: 10 });
  const next: string | null = page.nextCursor;
  void [title, created, next];

  // @ts-expect-error a wrong input: title must be a string
  await client.create.mutate({ title: 42 });
  // @ts-expect-error a missing required field: id
  await client.get.query({});
  // @ts-expect-error an unknown procedure
  await client.remove.mutate({ id });
  // @ts-expect-error a query called as a mutation
  await client.get.mutate({ id });
  // @ts-expect-error the output is typed: version is a number
  const version: string = (await client.update.mutate({ id, title: 't' })).version;
  void version;
}
