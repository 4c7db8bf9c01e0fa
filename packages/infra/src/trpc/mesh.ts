import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import type { ProcedureMeta } from '@switchyard/api-contracts';
import type { RequestContext } from './context.js';
import { formatError } from './format-error.js';

/**
 * The one tRPC instance of the mesh: superjson, the mesh error shape, contract metadata.
 * `isDev` is false: whether a caller sees internals is decided per request by the runtime
 * (development mode must be set explicitly), never by an unset NODE_ENV.
 */
export const t = initTRPC
  .context<RequestContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer: superjson,
    isDev: false,
    errorFormatter: ({ shape, error, ctx }) => formatError({ shape, error, ctx }),
  });
