import type pg from 'pg';
import { NOTES_EVENTS_STREAM, noteEvents } from '@switchyard/api-contracts';
import { startConsumer, type Consumer } from '@switchyard/infra/events';
import type { VerifiedAccess } from '@switchyard/infra/auth';
import type { Logger } from '@switchyard/infra/logging';
import type { Redis } from '@switchyard/infra/redis';
import { createService, type Service } from '@switchyard/infra/server';
import type { ActivityConfig } from './env.js';
import { createMeshStatus } from './mesh-status.js';
import { createActivityRouter } from './router.js';
import { createActivityStore } from './store.js';

/** What the activity service needs from outside. */
export interface ActivityDeps {
  config: ActivityConfig;
  pool: pg.Pool;
  /** A blocking-role connection for the consumer. */
  redis: Redis;
  logger: Logger;
  /** Verifies access tokens; without it the feed answers 401. */
  verifyAccessToken?: (token: string) => Promise<VerifiedAccess>;
}

/** The activity service (not listening) and its consumer of notes' events (not started). */
export function createActivityService({ config, pool, redis, logger, verifyAccessToken }: ActivityDeps): {
  service: Service;
  startConsumer: () => Promise<Consumer>;
} {
  const store = createActivityStore(pool);
  const service = createService({
    name: 'activity',
    router: createActivityRouter(store, createMeshStatus(config.MESH_INSTANCES)),
    config,
    logger,
    ...(verifyAccessToken ? { verifyAccessToken } : {}),
    dependencies: { postgres: () => pool.query('SELECT 1'), redis: () => redis.ping() },
  });
  return {
    service,
    startConsumer: () =>
      startConsumer({
        redis,
        stream: NOTES_EVENTS_STREAM,
        group: 'activity',
        consumer: config.CONSUMER_NAME,
        events: noteEvents,
        handle: (event) => store.record(event),
        maxAttempts: config.EVENT_MAX_ATTEMPTS,
        claimIdleMs: config.CLAIM_IDLE_MS,
        logger,
        registry: service.metrics.registry,
      }),
  };
}
