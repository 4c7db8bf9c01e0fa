import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Contract } from '@switchyard/api-contracts';
import { implement } from '../pipeline/implement.js';
import { t } from '../trpc/mesh.js';
import { procedureType, routerConfig, routerProcedureRecord, routerProcedures } from './router-internals.js';

// What the runtime reads of a tRPC router that no public function returns: when the pinned
// @trpc/server stops keeping these where router-internals.ts reads them, this fails.
const contract = {
  one: { type: 'query', access: 'public', input: z.object({}), output: z.object({}) },
  two: { type: 'mutation', access: 'public', input: z.object({}), output: z.object({}) },
} as const satisfies Contract;

describe("the router's internals, as the pinned @trpc/server keeps them", () => {
  const router = implement(contract, { one: () => ({}), two: () => ({}) });

  it('has every procedure by path, with its type', () => {
    expect(routerProcedures(router).sort()).toEqual(['one', 'two']);
    const record = routerProcedureRecord(router);
    expect([procedureType(record.one!), procedureType(record.two!)]).toEqual(['query', 'mutation']);
  });

  it("has the mesh's configuration: superjson and the mesh error formatter", () => {
    const config = routerConfig(router);
    expect(config).toBe(routerConfig(t.router({})));
    expect(typeof config.transformer.output.serialize).toBe('function');
    expect(typeof config.errorFormatter).toBe('function');
  });
});
