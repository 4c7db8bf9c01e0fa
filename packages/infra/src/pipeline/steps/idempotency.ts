import type { ProcedureInfo, Step } from '../call.js';

/**
 * A mutation sent with an `Idempotency-Key` runs once per caller, key and input: a repeat gets
 * the first call's result (see IdempotencyStore). The caller is the user, else the calling
 * service, else the address, so two callers never share a key's result.
 */
export function idempotency(procedure: ProcedureInfo): Step | undefined {
  if (procedure.def.type !== 'mutation') return undefined;
  return (call, next) => {
    const { ctx } = call;
    const store = ctx.mesh.idempotency;
    if (!ctx.idempotencyKey || !store) return next(call);
    const scope = ctx.user ? `u:${ctx.user.id}` : ctx.caller ? `s:${ctx.caller.service}` : `ip:${ctx.clientIp}`;
    return store.run(
      { scope, key: ctx.idempotencyKey, procedure: procedure.name, input: call.input },
      async () => next(call),
      ctx.signal,
    );
  };
}
