import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { restoreFastPrototypes } from '../engine/v8-startup.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import type { Readiness } from './readiness.js';

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

/** What {@link createLifecycle} runs. */
export interface LifecycleOptions {
  name: string;
  server: Server;
  metrics: ServiceMetrics;
  logger: Logger;
  listen: { port: number; host: string; metricsPort: number; metricsHost: string };
  /** How long readiness fails before the listener closes, in ms. */
  drainDelayMs: number;
  /** How long in-flight requests may take after that, in ms, before connections are cut. */
  shutdownTimeoutMs: number;
  /** Runs before the service reports ready (its dependencies' first check). */
  beforeReady: () => Promise<unknown>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * A service's life: start (the V8 start-up step, listen, metrics port, ready) and a graceful shutdown: readiness fails,
 * the drain delay lets the gateway's health checks see it, the listener closes (idle connections
 * at once, the rest when their requests end, all at the hard deadline), then the registered
 * resources close in reverse order.
 */
export function createLifecycle(options: LifecycleOptions) {
  const { server, metrics, logger, name } = options;
  const closers: Array<{ name: string; close: () => Promise<unknown> | unknown }> = [];
  let readiness: Readiness = 'starting';
  let metricsServer: MetricsServer | undefined;
  let shutdown: Promise<ShutdownResult> | undefined;

  async function start(): Promise<ServiceAddress> {
    restoreFastPrototypes();
    const { port, host, metricsPort, metricsHost } = options.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    metricsServer = await startMetricsServer({ registry: metrics.registry, port: metricsPort, host: metricsHost });
    const bound = (server.address() as AddressInfo).port;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    await options.beforeReady();
    readiness = 'ready';
    metrics.setReady(true);
    logger.info({ port: bound, metricsPort: metricsServer.port }, `${name} listening`);
    return { port: bound, metricsPort: metricsServer.port, url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound}` };
  }

  async function drain(reason: string): Promise<ShutdownResult> {
    logger.info({ reason, drainDelayMs: options.drainDelayMs }, 'draining: readiness now fails');
    readiness = 'draining';
    metrics.setReady(false);
    await sleep(options.drainDelayMs);
    let clean = true;
    if (server.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = sleep(options.shutdownTimeoutMs).then(() => 'deadline' as const);
      if ((await Promise.race([closed, deadline])) === 'deadline') {
        clean = false;
        logger.warn({ shutdownTimeoutMs: options.shutdownTimeoutMs }, 'shutdown deadline reached: cutting connections');
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
    readiness: () => readiness,
    start,
    onClose(resourceName: string, close: () => Promise<unknown> | unknown) {
      closers.push({ name: resourceName, close });
    },
    shutdown(reason: string): Promise<ShutdownResult> {
      shutdown ??= drain(reason);
      return shutdown;
    },
  };
}
