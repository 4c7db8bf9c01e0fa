import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { ServiceCaller } from '../identity/service-identity.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import type { CallOrigin } from '../server/call-origins.js';

/** What the runtime hands every procedure call, besides the fields handlers use. */
export interface MeshRuntime {
  /** The serving service's name. */
  readonly service: string;
  /** The service's logger (request loggers are its children). */
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Send internal messages and stacks to callers: development mode only, set explicitly. */
  readonly exposeErrors: boolean;
  /** The shared rate limit, when the service has one. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** Where mutations sent with an `Idempotency-Key` keep their results, when the service has one. */
  readonly idempotency?: IdempotencyStore | undefined;
}

/** A signed-in end user (set by the auth middleware of [3/7]). */
export interface EndUser {
  readonly id: string;
  readonly roles: readonly string[];
}

/**
 * The context of a request. For the HTTP request it is shared by the calls of a batch; each
 * procedure call then gets its own copy with its span, its deadline and its signal. `log` and
 * `signal` are made on first use (getters): pass the context itself on, not a spread copy.
 * Handlers read `requestId`, `log`, `signal`, `caller`, `user`, and pass the context to service clients.
 */
export interface RequestContext {
  readonly requestId: string;
  /** A child logger carrying the request id (and, during a call, the trace and span ids). */
  readonly log: Logger;
  /** Aborted when the caller goes away or, during a call, when its deadline passes. */
  readonly signal: AbortSignal;
  /** When the work must be done, on the `performance.now()` clock. */
  readonly deadlineAt: number;
  /** The trace context: the inbound parent, or during a call, the call's server span. */
  readonly otel: Context;
  /** The calling service, when the request carried a valid service credential. */
  readonly caller?: ServiceCaller | undefined;
  readonly user?: EndUser | undefined;
  /** The caller's address (from `X-Forwarded-For` only when the peer is a trusted proxy). */
  readonly clientIp: string;
  /** The request's `Idempotency-Key`, when well formed. */
  readonly idempotencyKey?: string | undefined;
  /** A request header (lower-case name), e.g. `cookie` or `x-csrf-token`. */
  readonly header: (name: string) => string | undefined;
  /** Sets a header on the HTTP response (shared by the calls of a batch). */
  readonly setHeader: (name: string, value: string) => void;
  readonly mesh: MeshRuntime;
}

/**
 * On a request context made by the service runtime: calls `callback` once if the caller goes away
 * before the response is sent; returns what stops that. Cheaper than listening on `signal` (no
 * AbortController, no EventTarget), for the runtime's own deadline race.
 */
export const WHEN_GONE = Symbol('switchyard.whenGone');
export type WhenGone = (callback: () => void) => () => void;

/**
 * On a request context whose HTTP request carried `x-switchyard-calls` (see batch-calls.ts): each
 * call's own request id, deadline, trace and idempotency key, by batch index. Each call's context
 * then carries its entry's values instead of the request's.
 */
export const CALL_ORIGINS = Symbol('switchyard.callOrigins');
export type CallOrigins = readonly CallOrigin[];
