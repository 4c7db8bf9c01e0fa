import type { AccessRule } from '@switchyard/api-contracts';
import { SwitchyardError } from '../../errors/switchyard-error.js';
import type { RequestContext } from '../../trpc/context.js';
import type { ProcedureInfo, Step } from '../call.js';

/**
 * Why `ctx` may not call a procedure with this access rule, or `undefined` when it may.
 * Internal-only procedures (`'mesh'`, `{ services }`) accept only a verified calling service (the
 * listed ones), whatever user token the request also carries.
 */
export function accessDenied(rule: AccessRule, ctx: Pick<RequestContext, 'caller' | 'user'>): SwitchyardError | undefined {
  if (rule === 'public') return undefined;
  if (rule === 'mesh') return ctx.caller ? undefined : new SwitchyardError('FORBIDDEN', 'This procedure is internal to the mesh');
  if (typeof rule === 'object' && 'services' in rule) {
    if (ctx.caller && rule.services.includes(ctx.caller.service)) return undefined;
    return new SwitchyardError('FORBIDDEN', 'This procedure is internal to the mesh');
  }
  if (!ctx.user) return new SwitchyardError('UNAUTHENTICATED', 'Sign in to call this procedure');
  if (rule === 'user') return undefined;
  return rule.roles.some((role) => ctx.user!.roles.includes(role)) ? undefined : new SwitchyardError('FORBIDDEN', 'Not allowed');
}

/** The contract's access rule, before anything else of the call runs (none for a public procedure). */
export function access(procedure: ProcedureInfo): Step | undefined {
  const rule = procedure.meta.access;
  if (rule === 'public') return undefined;
  return (call, next) => {
    const denied = accessDenied(rule, call.ctx);
    if (denied) throw denied;
    return next(call);
  };
}
