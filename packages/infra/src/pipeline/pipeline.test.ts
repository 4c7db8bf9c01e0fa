import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Contract } from '@switchyard/api-contracts';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { startTestService, type TestService } from '../testing/test-service.js';
import { implement } from './implement.js';
import type { Step } from './call.js';

// A step is written once and every adapter runs it: the fast adapter (JSON queries and
// mutations) and tRPC's own (here forced with `adapter: 'stock'`).
const contract = {
  greet: { type: 'query', access: 'public', input: z.object({ name: z.string() }), output: z.object({ text: z.string() }) },
  save: { type: 'mutation', access: 'public', input: z.object({ name: z.string() }), output: z.object({ ok: z.boolean() }) },
} as const satisfies Contract;

const seen: string[] = [];
/** A test-only step: it marks the response, refuses the name "mallory", and sees the parsed input. */
const tag: Step = (call, next) => {
  const { name } = call.input as { name: string };
  seen.push(`${call.procedure.name}:${name}`);
  call.ctx.setHeader('x-test-step', call.procedure.name);
  if (name === 'mallory') throw new SwitchyardError('FORBIDDEN', 'Not this name');
  return next(call);
};

const router = implement(
  contract,
  { greet: ({ input }) => ({ text: `hello ${input.name}` }), save: () => ({ ok: true }) },
  { steps: [tag] },
);

const services: TestService[] = [];

async function serve(adapter: 'fast' | 'stock'): Promise<string> {
  const service = await startTestService({ name: 'pipeline', router, adapter });
  services.push(service);
  return service.url;
}

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});

const query = (url: string, name: string) =>
  fetch(`${url}/trpc/greet?input=${encodeURIComponent(JSON.stringify({ json: { name } }))}`);
const mutate = (url: string, name: string) =>
  fetch(`${url}/trpc/save`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { name } }),
  });

describe('a step added to implement()', () => {
  it.each(['fast', 'stock'] as const)(
    'runs on the %s adapter, for queries and mutations, after input validation',
    async (adapter) => {
      const url = await serve(adapter);
      seen.length = 0;
      const ok = await query(url, 'ada');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-test-step')).toBe('greet');
      expect(await ok.json()).toEqual({ result: { data: { json: { text: 'hello ada' } } } });
      const saved = await mutate(url, 'ada');
      expect([saved.status, saved.headers.get('x-test-step')]).toEqual([200, 'save']);
      const refused = await mutate(url, 'mallory');
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { json: { data: { appCode: string } } } }).error.json.data.appCode).toBe(
        'FORBIDDEN',
      );
      // Invalid input never reaches the step: validation runs before it.
      expect((await query(url, 42 as unknown as string)).status).toBe(400);
      expect(seen).toEqual(['greet:ada', 'save:ada', 'save:mallory']);
    },
  );
});
