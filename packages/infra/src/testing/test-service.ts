import type { AnyTRPCRouter } from '@trpc/server';
import { z } from 'zod';
import { loadConfig, portVar, serviceEnvShape, type ServiceEnv } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { createService, type CreateServiceOptions, type Service } from '../server/service.js';
import { captureLogs, type LogCapture } from './log-capture.js';

const TestServiceEnv = z.object({ ...serviceEnvShape, PORT: portVar(0), METRICS_PORT: portVar(0) });

/** Options of {@link startTestService}: `createService`'s, with the config made from `env`. */
export interface TestServiceOptions extends Partial<Omit<CreateServiceOptions, 'router' | 'config' | 'logger'>> {
  router: AnyTRPCRouter;
  /**
   * Environment variables, read with `loadConfig` as a service reads its own, over the test
   * defaults `HOST=127.0.0.1`, `PORT=0`, `METRICS_PORT=0` and `DRAIN_DELAY_MS=0`.
   * @default {}
   */
  env?: Record<string, string>;
  /** The service name, in logs and metrics. @default 'test' */
  name?: string;
}

/** A service started in this process by {@link startTestService}. */
export interface TestService {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly service: Service;
  readonly config: ServiceEnv & { PORT: number; METRICS_PORT: number };
  /** Its log lines (pino JSON), kept in memory. */
  readonly logs: LogCapture;
  /** Shuts it down (readiness, drain of `DRAIN_DELAY_MS`, close, resources). */
  close(): Promise<void>;
}

/**
 * Starts `createService` in this process on free loopback ports, its config parsed from `env`
 * and its logs captured; `close()` disposes it.
 * @example
 * const svc = await startTestService({ router, env: { MAX_BATCH_SIZE: '3' } });
 * try { await fetch(`${svc.url}/health`); } finally { await svc.close(); }
 */
export async function startTestService(options: TestServiceOptions): Promise<TestService> {
  const { router, env = {}, name = 'test', ...rest } = options;
  const config = loadConfig(TestServiceEnv, { HOST: '127.0.0.1', DRAIN_DELAY_MS: '0', ...env });
  const logs = captureLogs();
  const logger = createLogger({ service: name, destination: logs.stream });
  const service = createService({ ...rest, name, router, config, logger });
  const address = await service.start();
  return {
    url: address.url,
    port: address.port,
    metricsPort: address.metricsPort,
    service,
    config,
    logs,
    close: async () => void (await service.shutdown('test done')),
  };
}
