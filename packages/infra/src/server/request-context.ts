import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import { TokenRejectedError, type VerifiedAccess } from '../auth/access-token.js';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { claimedService, verifyServiceCredential, type TrustedServiceKeys } from '../identity/service-identity.js';
import { MAX_DEADLINE_MS, now, parseDeadlineHeader } from '../policies/deadline.js';
import { extractTraceContext } from '../tracing/tracing.js';
import type { MeshRuntime, RequestContext } from '../trpc/context.js';
import {
  CALLS_HEADER,
  DEADLINE_HEADER,
  ID_RULE,
  IDEMPOTENCY_KEY_HEADER,
  REQUEST_ID_HEADER,
  SERVICE_CREDENTIAL_HEADER,
  isWellFormedId,
} from '../wire/index.js';
import { clientIpOf } from './client-ip.js';
import { callOrigins } from './call-origins.js';
import { HttpRequestContext } from './http-context.js';
import { callsOf, type MeshRequest } from './mesh-request.js';

/** What {@link createContextFactory} needs. */
export interface ContextFactoryOptions {
  runtime: MeshRuntime;
  /** A request's budget without `x-deadline-ms`, in ms. */
  defaultDeadlineMs: number;
  trustedProxies: ReadonlySet<string>;
  trustedServiceKeys: TrustedServiceKeys | undefined;
  /** The services that may call this one; `undefined`: every trusted caller. */
  allowedCallers: ReadonlySet<string> | undefined;
  verifyAccessToken: ((token: string) => Promise<VerifiedAccess>) | undefined;
}

async function userOf(authorization: string, verify: (token: string) => Promise<VerifiedAccess>) {
  const match = /^Bearer ([^\s]+)$/.exec(authorization);
  if (!match) throw new TokenRejectedError('not a Bearer token');
  return (await verify(match[1]!)).user;
}

/** The calling service, when the request carries a credential; refuses a credential it cannot verify. */
function callerOf(req: IncomingMessage, res: ServerResponse, options: ContextFactoryOptions, requestId: string) {
  const credential = req.headers[SERVICE_CREDENTIAL_HEADER];
  if (credential === undefined) return undefined;
  const claimed = typeof credential === 'string' ? claimedService(credential) : undefined;
  // A service the mesh does not let call this one learns why, whatever its key: the list of who
  // may call whom (mesh.json) is no secret, and its key is never checked here.
  if (claimed && options.allowedCallers && !options.allowedCallers.has(claimed)) {
    const service = options.runtime.service;
    options.runtime.logger.warn({ requestId, caller: claimed }, 'refused a service that may not call this one');
    throw new SwitchyardError(
      'FORBIDDEN',
      `Service "${claimed}" may not call ${service}: mesh.json does not list ${service} among ${claimed}'s calls`,
    );
  }
  const keys = options.trustedServiceKeys;
  const caller = typeof credential === 'string' && keys ? verifyServiceCredential(credential, keys) : undefined;
  if (caller) return caller;
  // The reason stays here: the caller learns only that the credential was refused.
  options.runtime.logger.warn({ requestId }, 'refused a service credential');
  res.setHeader('www-authenticate', 'ServiceCredential');
  throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Invalid service credential' });
}

function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const key = req.headers[IDEMPOTENCY_KEY_HEADER];
  if (key === undefined || (typeof key === 'string' && isWellFormedId(key))) return key;
  throw new SwitchyardError('VALIDATION_FAILED', `Idempotency-Key ${ID_RULE}`, {
    issues: [{ path: 'Idempotency-Key', message: ID_RULE, code: 'invalid_format' }],
  });
}

/**
 * Makes each request's context: its request id, deadline, trace, calling service, user, client
 * address and idempotency key, from the request's headers; for calls from the mesh client, each
 * call's own from x-switchyard-calls. Throws what refuses the request (a bad credential, token or
 * header), so both tRPC paths answer it as their own error.
 */
export function createContextFactory(options: ContextFactoryOptions) {
  return (req: IncomingMessage, res: ServerResponse): RequestContext | Promise<RequestContext> => {
    const requestId = res.getHeader(REQUEST_ID_HEADER) as string;
    let budgetMs = parseDeadlineHeader(req.headers[DEADLINE_HEADER]) ?? options.defaultDeadlineMs;
    const caller = callerOf(req, res, options, requestId);
    const startedAt = (req as MeshRequest).startedAt ?? now();
    const entries = req.headers[CALLS_HEADER] !== undefined ? callsOf(req, req.url ?? '') : undefined;
    if (entries instanceof TRPCError) throw entries;
    let key = idempotencyKeyOf(req);
    // A request of one call: its entry overrides the request's headers (what it lacks is
    // theirs). A batch: each call its entry's (see callOrigins).
    let callId = requestId;
    let trace: Readonly<Record<string, string>> | undefined;
    if (entries?.length === 1) {
      const entry = entries[0]!;
      callId = entry.requestId ?? requestId;
      budgetMs = entry.budgetMs === undefined ? budgetMs : Math.min(entry.budgetMs, MAX_DEADLINE_MS);
      trace = entry.trace;
      key = entry.idempotencyKey ?? key;
    }
    const context = new HttpRequestContext(
      {
        requestId: callId,
        deadlineAt: startedAt + budgetMs,
        otel: extractTraceContext(trace ?? req.headers),
        caller,
        clientIp: clientIpOf(req, options.trustedProxies),
        idempotencyKey: key,
        origins: entries && entries.length > 1 ? callOrigins(entries, startedAt, budgetMs) : undefined,
      },
      options.runtime,
      req,
      res,
    );
    const authorization = req.headers.authorization;
    if (authorization === undefined || !options.verifyAccessToken) return context;
    return userOf(authorization, options.verifyAccessToken).then(
      (user) => {
        context.user = user;
        return context;
      },
      (err: unknown) => {
        // One answer for every bad token; the reason goes to the log only (never the token).
        context.log.info({ reason: err instanceof TokenRejectedError ? err.reason : 'error' }, 'access token refused');
        res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Invalid or expired access token' });
      },
    );
  };
}
