import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';

// tRPC keeps a router's procedures and configuration in `_def`, which its own adapters read and
// no public function returns. The runtime reads it here only; router-internals.test.ts fails when
// the pinned @trpc/server stops keeping them there.

/** The router's procedures by path (a lazy router may add more later). */
export function routerProcedureRecord(router: AnyTRPCRouter): Record<string, AnyTRPCProcedure | undefined> {
  return router._def.procedures as Record<string, AnyTRPCProcedure | undefined>;
}

/** The paths of the router's procedures. */
export function routerProcedures(router: AnyTRPCRouter): string[] {
  return Object.keys(router._def.procedures);
}

/** The router's configuration (transformer, error formatter): what getErrorShape and transformTRPCResponse take. */
export function routerConfig(router: AnyTRPCRouter): AnyTRPCRouter['_def']['_config'] {
  return router._def._config;
}

/** A procedure's type: `query`, `mutation` or `subscription`. */
export function procedureType(procedure: AnyTRPCProcedure): string {
  return procedure._def.type;
}
