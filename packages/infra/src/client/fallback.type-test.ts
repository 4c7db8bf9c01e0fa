// Type tests, compiled by `npm run typecheck` (see tooling/type-tests).
import { downstreamContract } from './fixtures/downstream.js';
import { withFallback } from './fallback.js';
import { createServiceClient } from './service-client.js';

const client = createServiceClient({ target: 'downstream', contract: downstreamContract, url: 'http://127.0.0.1:1' });

export async function fallbackTypes(): Promise<void> {
  const good = await withFallback(downstreamContract, 'work', client.with().work.query({}), { ok: true });
  const ok: true = good.ok;
  void ok;
  // @ts-expect-error a fallback that does not match the procedure's output
  await withFallback(downstreamContract, 'work', client.with().work.query({}), { ok: 'yes' });
  // @ts-expect-error a procedure the contract does not have
  await withFallback(downstreamContract, 'nope', client.with().work.query({}), { ok: true });
  // @ts-expect-error an unknown procedure on the client
  await client.with().nope.query({});
}
