import type { TRPCError } from '@trpc/server';
import { classify } from './format-error.js';
import { t } from './mesh.js';

/** Errors already measured and logged by {@link observeCall}, so the HTTP layer skips them. */
export const observedErrors = new WeakSet<TRPCError>();

/**
 * Middleware on every mesh procedure: RED metrics and one access log line per call
 * (procedure, type, outcome, duration, request id from the child logger).
 */
export const observeCall = t.middleware(async ({ path, type, ctx, next }) => {
  const started = performance.now();
  const done = ctx.mesh.metrics.trackInFlight(path);
  const result = await next();
  done();
  const durationMs = performance.now() - started;
  const code = result.ok ? 'OK' : result.error.code;
  ctx.mesh.metrics.recordCall({ procedure: path, type, code, durationSeconds: durationMs / 1000 });
  const line = { procedure: path, type, outcome: code, durationMs: Math.round(durationMs * 1000) / 1000 };
  if (result.ok) {
    ctx.log.info(line, 'call');
  } else {
    observedErrors.add(result.error);
    if (result.error.code === 'INTERNAL_SERVER_ERROR') {
      ctx.log.error({ ...line, err: result.error.cause ?? result.error }, 'call failed');
    } else {
      const { appCode, issues } = classify(result.error);
      const detail = issues ? { fields: issues.map((i) => i.path) } : { error: result.error.message };
      ctx.log.info({ ...line, appCode, ...detail }, 'call');
    }
  }
  return result;
});
