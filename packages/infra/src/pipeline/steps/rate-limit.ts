import { SwitchyardError } from '../../errors/switchyard-error.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { RequestContext } from '../../trpc/context.js';
import type { ProcedureInfo, Step } from '../call.js';

/**
 * Takes each call's cost (the contract's `rateLimitCost`) from the caller's shared limit: per
 * user when signed in, else per address. Every call of a batch counts. Sets `RateLimit-*`
 * headers; over the limit it answers 429 with `Retry-After`. While Redis is out, the limiter's
 * degraded mode decides and `X-RateLimit-Degraded` says which.
 */
export function rateLimit(procedure: ProcedureInfo): Step | undefined {
  const cost = procedure.meta.rateLimitCost;
  if (cost === 0) return undefined;
  return (call, next) => {
    const limiter = call.ctx.mesh.rateLimiter;
    if (!limiter) return next(call);
    return consume(call.ctx, limiter, cost).then(() => next(call));
  };
}

async function consume(ctx: RequestContext, limiter: RateLimiter, cost: number): Promise<void> {
  const key = ctx.user ? `u:${ctx.user.id}` : `ip:${ctx.clientIp}`;
  const decision = await limiter.consume(key, cost);
  const resetSeconds = Math.ceil(decision.resetMs / 1000);
  ctx.setHeader('ratelimit-limit', String(decision.limit));
  ctx.setHeader('ratelimit-remaining', String(decision.remaining));
  ctx.setHeader('ratelimit-reset', String(resetSeconds));
  if (decision.degraded) ctx.setHeader('x-ratelimit-degraded', decision.degraded);
  if (decision.allowed) return;
  ctx.setHeader('retry-after', String(Math.max(1, resetSeconds)));
  if (decision.degraded === 'closed') throw new SwitchyardError('UNAVAILABLE', 'Rate limiting is unavailable; try again shortly');
  throw new SwitchyardError('RATE_LIMITED', `Rate limit of ${decision.limit} exceeded; retry in ${Math.max(1, resetSeconds)} s`);
}
