// Compiled by `npm run typecheck` and never run: each mistake below must fail the type check
// (tooling/type-tests proves that every @ts-expect-error is needed).
import { createSwitchyardClient } from '@switchyard/client';

const client = createSwitchyardClient({ baseUrl: 'http://127.0.0.1:8080' });

export async function mistakes() {
  // @ts-expect-error a procedure notes does not have
  await client.notes.lsit.query({});
  // @ts-expect-error a limit must be a number
  await client.notes.list.query({ limit: '20' });
  // @ts-expect-error an unknown input field (contracts' inputs are strict)
  await client.notes.create.mutate({ title: 'x', owner: 'someone' });
  // @ts-expect-error a query is not a mutation
  await client.notes.list.mutate({});
  const page = await client.notes.list.query({});
  // @ts-expect-error notes have no `name`
  console.log(page.items[0]?.name);
  // @ts-expect-error getUser is internal, but typed: its input needs an id
  await client.auth.getUser.query({});
}
