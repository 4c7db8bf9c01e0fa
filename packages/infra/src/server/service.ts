import { createServer } from 'node:http';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Logger } from 'pino';
import type { VerifiedAccess } from '../auth/access-token.js';
import type { ServiceEnv } from '../config/config.js';
import { routerProcedures } from '../engine/router-internals.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { TrustedServiceKeys } from '../identity/service-identity.js';
import { createMetrics, type ServiceMetrics } from '../metrics/metrics.js';
import { observedErrors } from '../pipeline/observe.js';
import { now } from '../policies/deadline.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import { REQUEST_ID_HEADER } from '../wire/index.js';
import { createLifecycle, type ServiceAddress, type ShutdownResult } from './lifecycle.js';
import { createListener, onClientError, type Route } from './listener.js';
import { MeshRequest, meshResponse } from './mesh-request.js';
import { dependencyMonitor, type DependencyCheck, type Readiness } from './readiness.js';
import { createContextFactory } from './request-context.js';
import { createTrpcHandler, type TrpcHandlerOptions } from './trpc-handler.js';
import { createTrpcRoute } from './trpc-route.js';

export type { ServiceAddress, ShutdownResult } from './lifecycle.js';

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
  routes?: Readonly<Record<string, Route>>;
  /** Verifies `Authorization: Bearer` access tokens (see `createAccessTokenVerifier`); without it no caller is a user. */
  verifyAccessToken?: (token: string) => Promise<VerifiedAccess>;
  /** Makes mutations sent with an `Idempotency-Key` run once. */
  idempotency?: IdempotencyStore;
  /** The shared rate limit applied to every procedure (by its contract cost). */
  rateLimiter?: RateLimiter;
  /** Service keys accepted from callers. @default `config.TRUSTED_SERVICE_KEYS`; without any, no caller is a service. */
  trustedServiceKeys?: TrustedServiceKeys;
  /** The services that may call this one. @default `config.ALLOWED_CALLERS`; unset, every trusted caller. */
  allowedCallers?: ReadonlySet<string>;
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

/** Measures and logs a request refused before any procedure ran (unknown path, bad batch, bad header). */
function logRefusal(metrics: ServiceMetrics, logger: Logger): TrpcHandlerOptions['onError'] {
  return ({ error, path, type, ctx, req }) => {
    if (observedErrors.has(error)) return;
    const durationMs = now() - ((req as MeshRequest).startedAt ?? now());
    const procedure = metrics.procedureLabel(path);
    metrics.recordCall({ procedure, type, code: error.code, durationSeconds: durationMs / 1000 });
    const log = ctx?.log ?? logger.child({ requestId: req.headers[REQUEST_ID_HEADER] });
    const line = { procedure, type, outcome: error.code, durationMs: Math.round(durationMs * 1000) / 1000, error: error.message };
    log.info(line, 'call');
  };
}

/**
 * Creates a service instance (nothing listens until `start()`): tRPC on `/trpc/*`, `/health`,
 * `/ready`, request ids, limits, RED metrics on a separate port, graceful shutdown.
 * @example const service = createService({ name: 'notes', router, config, logger }); await service.start();
 */
export function createService(options: CreateServiceOptions): Service {
  const { config, logger, name } = options;
  const metrics = options.metrics ?? createMetrics({ service: name, procedures: routerProcedures(options.router) });
  const monitor = dependencyMonitor(options.dependencies ?? {});
  const runtime = {
    service: name,
    logger,
    metrics,
    exposeErrors: config.NODE_ENV === 'development',
    rateLimiter: options.rateLimiter,
    idempotency: options.idempotency,
  };
  const trpc = createTrpcHandler({
    fast: options.adapter !== 'stock',
    router: options.router,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxBatchSize: config.MAX_BATCH_SIZE,
    createContext: createContextFactory({
      runtime,
      defaultDeadlineMs: config.DEFAULT_DEADLINE_MS,
      trustedProxies: new Set(config.TRUSTED_PROXIES),
      trustedServiceKeys: options.trustedServiceKeys ?? config.TRUSTED_SERVICE_KEYS,
      allowedCallers: options.allowedCallers ?? config.ALLOWED_CALLERS,
      verifyAccessToken: options.verifyAccessToken,
    }),
    onError: logRefusal(metrics, logger),
  });
  const listener = createListener({
    trpc: createTrpcRoute({ trpc, maxBodyBytes: config.MAX_BODY_BYTES, metrics, logger }),
    routes: options.routes ?? {},
    ready: () => ({
      status: lifecycle.readiness() === 'ready' ? 200 : 503,
      body: {
        status: lifecycle.readiness(),
        dependencies: monitor.snapshot(),
        ...(options.breakers ? { breakers: options.breakers() } : {}),
      },
    }),
    metrics,
    logger,
  });
  const server = createServer(
    {
      maxHeaderSize: config.MAX_HEADER_BYTES,
      IncomingMessage: MeshRequest,
      ServerResponse: meshResponse(() => lifecycle.readiness() === 'draining'),
    },
    listener,
  );
  server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = config.KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on('clientError', onClientError(metrics));
  const lifecycle = createLifecycle({
    name,
    server,
    metrics,
    logger,
    listen: {
      port: config.PORT,
      host: config.HOST,
      metricsPort: config.METRICS_PORT,
      metricsHost: config.METRICS_HOST ?? config.HOST,
    },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    beforeReady: () => monitor.refresh(),
  });
  return {
    name,
    metrics,
    get readiness() {
      return lifecycle.readiness();
    },
    start: lifecycle.start,
    onClose: lifecycle.onClose,
    shutdown: lifecycle.shutdown,
  };
}
