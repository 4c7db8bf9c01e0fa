import type { Logger } from 'pino';
import type { ServiceMetrics } from '../metrics/metrics.js';

/** What the runtime hands every procedure call, besides the fields handlers use. */
export interface MeshRuntime {
  readonly metrics: ServiceMetrics;
  /** Send internal messages and stacks to callers: development mode only, set explicitly. */
  readonly exposeErrors: boolean;
}

/**
 * The context of one HTTP request (shared by the calls of a batch).
 * Handlers read `requestId`, `log` (a child logger carrying the request id) and `signal`.
 */
export interface RequestContext {
  readonly requestId: string;
  readonly log: Logger;
  /** Aborted when the caller goes away. */
  readonly signal: AbortSignal;
  readonly mesh: MeshRuntime;
}
