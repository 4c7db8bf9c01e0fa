import { randomUUID } from 'node:crypto';
import {
  IncomingMessage,
  ServerResponse,
  createServer,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Logger } from 'pino';
import type { ServiceEnv } from '../config/config.js';
import { createMetrics, type ServiceMetrics } from '../metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { TRPCError } from '@trpc/server';
import { SERVICE_CREDENTIAL_HEADER, verifyServiceCredential, type TrustedServiceKeys } from '../identity/service-identity.js';
import { DEADLINE_HEADER, now, parseDeadlineHeader } from '../policies/deadline.js';
import { extractTraceContext } from '../tracing/tracing.js';
import {
  CALL_ORIGINS,
  WHEN_GONE,
  type CallOrigins,
  type EndUser,
  type MeshRuntime,
  type RequestContext,
  type WhenGone,
} from '../trpc/context.js';
import { observedErrors } from '../pipeline/observe.js';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { IDEMPOTENCY_KEY_HEADER, isWellFormedIdempotencyKey, type IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import { TokenRejectedError, type VerifiedAccess } from '../auth/access-token.js';
import { clientIpOf } from './client-ip.js';
import { dependencyMonitor, type DependencyCheck, type Readiness } from './readiness.js';
import { REQUEST_ID_HEADER, inboundRequestId } from './request-id.js';
import { readRequestBody } from './request-body.js';
import { jsonContentType } from './fast-trpc.js';
import { createTrpcHandler } from './trpc-handler.js';
import { BATCH_CALLS_HEADER, callOrigins, callsInRequest, parseBatchCalls, type CallEntry } from './batch-calls.js';

/** The URL prefix of the tRPC endpoint: `/trpc/<procedure>`. */
export const TRPC_PREFIX = '/trpc/';

/** Options of {@link createService}. */
export interface CreateServiceOptions {
  /** The service name, in logs and metrics. */
  name: string;
  router: AnyTRPCRouter;
  /** The common service settings (see `serviceEnvShape`), plus the two ports. */
  config: ServiceEnv & { PORT: number; METRICS_PORT: number };
  logger: Logger;
  /** @default metrics for the router's procedures */
  metrics?: ServiceMetrics;
  /** Dependencies reported in the `/ready` body (never failing it; checked in the background). */
  dependencies?: Readonly<Record<string, DependencyCheck>>;
  /**
   * `stock` answers every tRPC request with tRPC's own node-http adapter; `fast` (default) answers
   * JSON queries and mutations from node:http directly (wire-compatible) and the rest with it.
   */
  adapter?: 'fast' | 'stock';
  /** The breaker states of the services this one calls, for the `/ready` body (the mesh status view). */
  breakers?: () => Record<string, string>;
  /** Extra GET routes outside tRPC, by exact path (e.g. `/.well-known/jwks.json`). */
  routes?: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>>;
  /** Verifies `Authorization: Bearer` access tokens (see `createAccessTokenVerifier`); without it no caller is a user. */
  verifyAccessToken?: (token: string) => Promise<VerifiedAccess>;
  /** Makes mutations sent with an `Idempotency-Key` run once. */
  idempotency?: IdempotencyStore;
  /** The shared rate limit applied to every procedure (by its contract cost). */
  rateLimiter?: RateLimiter;
  /** Service keys accepted from callers. @default `config.TRUSTED_SERVICE_KEYS`; without any, no caller is a service. */
  trustedServiceKeys?: TrustedServiceKeys;
}

/** Where a started service listens. */
export interface ServiceAddress {
  readonly port: number;
  readonly metricsPort: number;
  /** `http://host:port`, for clients. */
  readonly url: string;
}

/** How a shutdown ended: `clean` when every request finished before the hard deadline. */
export interface ShutdownResult {
  readonly clean: boolean;
}

/** A service instance: its API listener, its metrics listener and the resources it closes. */
export interface Service {
  readonly name: string;
  readonly metrics: ServiceMetrics;
  readonly readiness: Readiness;
  start(): Promise<ServiceAddress>;
  /** Registers a resource to close on shutdown; resources close in reverse order of registration. */
  onClose(name: string, close: () => Promise<unknown> | unknown): void;
  /** Drains and stops: readiness 503, drain delay, close, hard deadline, resources in reverse order. */
  shutdown(reason: string): Promise<ShutdownResult>;
}

const START = Symbol('switchyard.requestStart');

async function userOf(authorization: string, verify: (token: string) => Promise<VerifiedAccess>) {
  const match = /^Bearer ([^\s]+)$/.exec(authorization);
  if (!match) throw new TokenRejectedError('not a Bearer token');
  return (await verify(match[1]!)).user;
}
/** The entries of x-switchyard-calls, or why they were refused, once read (see readCalls). */
const CALLS = Symbol('switchyard.calls');

/**
 * The service's requests: node's IncomingMessage with what the runtime keeps per request declared
 * when it is made (a property added to every request later took V8 through a transition lookup
 * and an IC miss per request).
 */
class MeshRequest extends IncomingMessage {
  /** When the request arrived, on the `now()` clock. */
  declare [START]: number | undefined;
  /** Its x-switchyard-calls entries (or their refusal), when the listener read them. */
  declare [CALLS]: CallEntry[] | TRPCError | undefined;
  /** A POST's body, read by the listener before tRPC runs (tRPC's adapter takes `req.body`). */
  declare body: string | undefined;

  constructor(socket: Socket) {
    super(socket);
    this[START] = undefined;
    this[CALLS] = undefined;
    this.body = undefined;
  }
}
type TimedRequest = MeshRequest;

/** node's writeHead, called by the service's responses (see MeshResponse in createService). */
const writeHead = ServerResponse.prototype.writeHead as (
  this: ServerResponse,
  statusCode: number,
  reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
) => ServerResponse;

/**
 * Each call's request id, budget, trace and idempotency key from x-switchyard-calls, or the 400
 * that refuses them (thrown by createContext, so both tRPC paths answer it as their own).
 */
function readCalls(req: IncomingMessage, path: string): CallEntry[] | TRPCError {
  try {
    // A path without a comma is one call, batched or not.
    const calls = path.includes(',') ? callsInRequest(req.url ?? '') : 1;
    return parseBatchCalls(req.headers[BATCH_CALLS_HEADER], calls);
  } catch (error) {
    if (error instanceof TRPCError) return error;
    throw error;
  }
}

/** Sends a JSON body with `cache-control: no-store`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text);
}

/**
 * The caller-gone hook of a request (see WHEN_GONE): one 'close' listener on the response for all
 * of the request's calls, made when the first asks.
 */
function whenGone(res: ServerResponse): WhenGone {
  let callbacks: Set<() => void> | undefined;
  return (callback) => {
    if (res.closed) {
      if (!res.writableFinished) callback();
      return () => undefined;
    }
    if (!callbacks) {
      const all = (callbacks = new Set());
      res.once('close', () => {
        if (!res.writableFinished) for (const f of all) f();
      });
    }
    callbacks.add(callback);
    return () => callbacks!.delete(callback);
  };
}

/** The request's signal: aborted when the caller goes away (through the request's WHEN_GONE hook). */
function requestSignal(whenGone: WhenGone): AbortSignal {
  const controller = new AbortController();
  whenGone(() => controller.abort());
  return controller.signal;
}

/**
 * A request's context (see RequestContext). Its logger and signal are made on first use: a call
 * that needs neither (no handler log line, a handler answering at once) costs no child logger and
 * no AbortController. A class: as an object literal with getters closing over the request, every
 * context had a hidden class of its own (V8 keeps accessors in the map), which cost ~18 us per
 * request and filled the old generation (scavenges of 7 ms every 30 ms under load).
 */
class HttpRequestContext implements RequestContext {
  user: EndUser | undefined = undefined;
  readonly header: (name: string) => string | undefined;
  readonly setHeader: (name: string, value: string) => void;
  /** Every call of the request, and its signal, learn that the caller went away from this one hook. */
  readonly [WHEN_GONE]: WhenGone;
  readonly [CALL_ORIGINS]: CallOrigins | undefined;
  private madeLog: Logger | undefined = undefined;
  private madeSignal: AbortSignal | undefined = undefined;

  constructor(
    readonly requestId: string,
    readonly deadlineAt: number,
    readonly otel: RequestContext['otel'],
    readonly caller: RequestContext['caller'],
    readonly clientIp: string,
    readonly idempotencyKey: string | undefined,
    readonly mesh: MeshRuntime,
    req: IncomingMessage,
    res: ServerResponse,
    origins: CallOrigins | undefined,
  ) {
    this[WHEN_GONE] = whenGone(res);
    this[CALL_ORIGINS] = origins;
    this.header = (header) => {
      const value = req.headers[header.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    this.setHeader = (header, value) => {
      if (res.headersSent) return;
      if (header.toLowerCase() !== 'set-cookie') res.setHeader(header, value);
      else res.appendHeader('set-cookie', value);
    };
  }

  get log(): Logger {
    return (this.madeLog ??= this.mesh.logger.child({ requestId: this.requestId }));
  }

  get signal(): AbortSignal {
    return (this.madeSignal ??= requestSignal(this[WHEN_GONE]));
  }
}

/** A whole HTTP response with the mesh's JSON error, for requests node could not parse. */
function rawError(status: number, reason: string, message: string): string {
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { message, appCode: 'BAD_REQUEST', requestId } });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
    `x-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Creates a service instance (nothing listens until `start()`): tRPC on `/trpc/*`, `/health`,
 * `/ready`, request ids, limits, RED metrics on a separate port, graceful shutdown.
 * @example const service = createService({ name: 'notes', router, config, logger }); await service.start();
 */
export function createService(options: CreateServiceOptions): Service {
  const { config, logger, name } = options;
  const metrics = options.metrics ?? createMetrics({ service: name, procedures: Object.keys(options.router._def.procedures) });
  const exposeErrors = config.NODE_ENV === 'development';
  const monitor = dependencyMonitor(options.dependencies ?? {});
  const trusted = options.trustedServiceKeys ?? config.TRUSTED_SERVICE_KEYS;
  const runtime = {
    service: name,
    logger,
    metrics,
    exposeErrors,
    rateLimiter: options.rateLimiter,
    idempotency: options.idempotency,
  };
  const trustedProxies = new Set(config.TRUSTED_PROXIES);
  const closers: Array<{ name: string; close: () => Promise<unknown> | unknown }> = [];
  let readiness: Readiness = 'starting';
  let metricsServer: MetricsServer | undefined;
  let shutdownPromise: Promise<ShutdownResult> | undefined;
  // While draining, every response not yet sent says `connection: close`, so the listener can
  // finish closing as soon as in-flight requests are done instead of waiting for keep-alive to
  // expire: read when its headers are written (res.end without writeHead goes through writeHead
  // too). Not a Set of unsent responses: a Set with an entry added and deleted per request was
  // rehashed every few hundred requests, and responses finished long ago kept surviving
  // scavenges and being promoted with their requests and contexts (most likely through the
  // replaced tables, which V8 keeps linked to their successors with their entries: an old
  // table's slots are roots to a scavenge): 2.6 KB promoted per request of a service whose
  // handler awaits, 74 B without the Set (--trace-gc-nvp under load), scavenges 3-4x shorter.
  class MeshResponse extends ServerResponse<MeshRequest> {
    override writeHead(
      statusCode: number,
      reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
      headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
    ): this {
      if (readiness === 'draining' && !this.headersSent) this.setHeader('connection', 'close');
      return writeHead.call(this, statusCode, reason, headers) as this;
    }
  }

  const trpc = createTrpcHandler({
    fast: options.adapter !== 'stock',
    router: options.router,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxBatchSize: config.MAX_BATCH_SIZE,
    createContext(req, res): RequestContext | Promise<RequestContext> {
      const requestId = res.getHeader(REQUEST_ID_HEADER) as string;
      let budgetMs = parseDeadlineHeader(req.headers[DEADLINE_HEADER]) ?? config.DEFAULT_DEADLINE_MS;
      const credential = req.headers[SERVICE_CREDENTIAL_HEADER];
      let caller: RequestContext['caller'];
      if (credential !== undefined) {
        caller = typeof credential === 'string' && trusted ? verifyServiceCredential(credential, trusted) : undefined;
        if (!caller) {
          // The reason stays here: the caller learns only that the credential was refused.
          logger.warn({ requestId }, 'refused a service credential');
          res.setHeader('www-authenticate', 'ServiceCredential');
          throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Invalid service credential' });
        }
      }
      const startedAt = (req as TimedRequest)[START] ?? now();
      // Calls from the mesh client: each call's own request id, deadline, trace and key (read by
      // the listener already when it took the response's request id from them).
      let entries = (req as TimedRequest)[CALLS];
      if (entries === undefined && req.headers[BATCH_CALLS_HEADER] !== undefined) entries = readCalls(req, req.url ?? '');
      if (entries instanceof TRPCError) throw entries;
      const idempotencyKey = req.headers[IDEMPOTENCY_KEY_HEADER];
      if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || !isWellFormedIdempotencyKey(idempotencyKey))) {
        throw new SwitchyardError('VALIDATION_FAILED', 'Idempotency-Key must be 8-128 characters of A-Z a-z 0-9 . _ : -', {
          issues: [
            { path: 'Idempotency-Key', message: 'must be 8-128 characters of A-Z a-z 0-9 . _ : -', code: 'invalid_format' },
          ],
        });
      }
      // A request of one call: its entry overrides the request's headers (what it lacks is
      // theirs). A batch: each call its entry's (see callOrigins).
      let callId = requestId;
      let key = idempotencyKey as string | undefined;
      let otel: RequestContext['otel'] | undefined;
      let origins: CallOrigins | undefined;
      if (entries?.length === 1) {
        const entry = entries[0]!;
        callId = entry.requestId ?? requestId;
        budgetMs = entry.budgetMs ?? budgetMs;
        otel = entry.otel;
        key = entry.idempotencyKey ?? key;
      } else if (entries) {
        origins = callOrigins(entries, startedAt, budgetMs);
      }
      const context = new HttpRequestContext(
        callId,
        startedAt + budgetMs,
        otel ?? extractTraceContext(req.headers),
        caller,
        clientIpOf(req, trustedProxies),
        key,
        runtime,
        req,
        res,
        origins,
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
    },
    onError({ error, path, type, ctx, req }) {
      if (observedErrors.has(error)) return;
      // Failed before reaching a procedure: unknown path, bad batch, body too large, bad method.
      const started = (req as TimedRequest)[START] ?? now();
      const durationMs = now() - started;
      const procedure = metrics.procedureLabel(path);
      metrics.recordCall({ procedure, type, code: error.code, durationSeconds: durationMs / 1000 });
      const log = ctx?.log ?? logger.child({ requestId: req.headers[REQUEST_ID_HEADER] });
      log.info(
        { procedure, type, outcome: error.code, durationMs: Math.round(durationMs * 1000) / 1000, error: error.message },
        'call',
      );
    },
  });

  const server: Server = createServer(
    { maxHeaderSize: config.MAX_HEADER_BYTES, IncomingMessage: MeshRequest, ServerResponse: MeshResponse },
    (req, res) => {
      const startedAt = now();
      (req as TimedRequest)[START] = startedAt;
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      // The response's request id: the inbound x-request-id when well formed; for calls from the
      // mesh client (x-switchyard-calls, no x-request-id), the first call's; else a new one.
      let requestId = inboundRequestId(req);
      if (requestId === undefined && req.headers[BATCH_CALLS_HEADER] !== undefined && path.startsWith(TRPC_PREFIX)) {
        const entries = readCalls(req, path);
        (req as TimedRequest)[CALLS] = entries;
        if (!(entries instanceof TRPCError)) requestId = entries[0]!.requestId;
      }
      requestId ??= randomUUID();
      res.setHeader(REQUEST_ID_HEADER, requestId);
      if (path.startsWith(TRPC_PREFIX)) {
        const procedurePath = path.slice(TRPC_PREFIX.length);
        const serve = () =>
          trpc(req, res, procedurePath).catch((err: unknown) => {
            logger.error({ err }, 'tRPC handler failed');
            res.destroy();
          });
        if (req.method === 'GET') {
          void serve();
          return;
        }
        // Queries are GETs and mutations JSON POSTs; nothing else reaches tRPC (its form-data
        // and octet-stream parsers stay off).
        if (req.method !== 'POST') {
          res.setHeader('allow', 'GET, POST');
          trpc.refuse(
            req,
            res,
            procedurePath,
            new TRPCError({
              code: 'METHOD_NOT_SUPPORTED',
              message: `${req.method} is not supported: queries are GET, mutations POST`,
            }),
          );
          return;
        }
        if (!jsonContentType(req.headers['content-type'])) {
          const message = 'A mutation body must be application/json';
          trpc.refuse(req, res, procedurePath, new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message }));
          return;
        }
        // The body first, before any other check, so an oversized one is answered 413 (and read
        // to its end) whoever sends it.
        void readRequestBody(req, { maxBytes: config.MAX_BODY_BYTES }).then((read) => {
          if (read.ok) {
            req.body = read.text;
            return serve();
          }
          if (read.reason === 'aborted') {
            res.destroy();
            return;
          }
          metrics.recordRejected('body_too_large');
          const message = `Request body over ${config.MAX_BODY_BYTES} bytes`;
          trpc.refuse(req, res, procedurePath, new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message }));
        });
        return;
      }
      const route = options.routes?.[path];
      if (route && (req.method === 'GET' || req.method === 'HEAD')) {
        void Promise.resolve(route(req, res)).catch((err: unknown) => {
          logger.error({ err, path }, 'route failed');
          if (!res.headersSent) sendJson(res, 500, { error: { message: 'Internal server error', appCode: 'INTERNAL' } });
        });
        return;
      }
      if (path === '/health' && req.method === 'GET') {
        sendJson(res, 200, { status: 'ok' });
        return;
      }
      if (path === '/ready' && req.method === 'GET') {
        sendJson(res, readiness === 'ready' ? 200 : 503, {
          status: readiness,
          dependencies: monitor.snapshot(),
          ...(options.breakers ? { breakers: options.breakers() } : {}),
        });
        return;
      }
      metrics.recordRejected('not_found');
      sendJson(res, 404, { error: { message: 'Not found', appCode: 'ROUTE_NOT_FOUND' } });
    },
  );
  server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = config.KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      metrics.recordRejected('header_too_large');
      socket.end(rawError(431, 'Request Header Fields Too Large', 'Request headers too large'));
      return;
    }
    socket.end(rawError(400, 'Bad Request', 'Malformed HTTP request'));
  });

  async function start(): Promise<ServiceAddress> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    metricsServer = await startMetricsServer({
      registry: metrics.registry,
      port: config.METRICS_PORT,
      host: config.METRICS_HOST ?? config.HOST,
    });
    const { port } = server.address() as AddressInfo;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    await monitor.refresh();
    readiness = 'ready';
    metrics.setReady(true);
    logger.info({ port, metricsPort: metricsServer.port }, `${name} listening`);
    return { port, metricsPort: metricsServer.port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
  }

  async function drain(reason: string): Promise<ShutdownResult> {
    logger.info({ reason, drainDelayMs: config.DRAIN_DELAY_MS }, 'draining: readiness now fails');
    readiness = 'draining';
    metrics.setReady(false);
    await sleep(config.DRAIN_DELAY_MS);
    let clean = true;
    if (server.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = sleep(config.SHUTDOWN_TIMEOUT_MS).then(() => 'deadline' as const);
      if ((await Promise.race([closed, deadline])) === 'deadline') {
        clean = false;
        logger.warn({ shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown deadline reached: cutting connections');
        server.closeAllConnections();
        await closed;
      }
    }
    await metricsServer?.close();
    for (const resource of closers.reverse()) {
      try {
        await resource.close();
      } catch (err) {
        clean = false;
        logger.error({ err, resource: resource.name }, 'closing a resource failed');
      }
    }
    logger.info({ clean }, `${name} stopped`);
    return { clean };
  }

  return {
    name,
    metrics,
    get readiness() {
      return readiness;
    },
    start,
    onClose(resourceName, close) {
      closers.push({ name: resourceName, close });
    },
    shutdown(reason) {
      shutdownPromise ??= drain(reason);
      return shutdownPromise;
    },
  };
}
