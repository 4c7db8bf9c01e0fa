import type pg from 'pg';
import type { Logger } from '@switchyard/infra/logging';
import type { ServiceMetrics } from '@switchyard/infra/metrics';
import type { RedisPlatform } from '@switchyard/infra/redis';
import { createService, type Service } from '@switchyard/infra/server';
import type { NotesConfig } from './env.js';
import { createNotesRouter, type PublishNoteEvent } from './router.js';
import { createNotesStore } from './store.js';

/** What the notes service needs from outside. */
export interface NotesDeps {
  config: NotesConfig;
  pool: pg.Pool;
  logger: Logger;
  /** Publishes notes' events (Redis Streams); without it none are published. */
  publish?: PublishNoteEvent;
  /** Shared rate limit and idempotency keys; without Redis neither applies. */
  platform?: RedisPlatform;
  metrics?: ServiceMetrics;
}

/** The notes service, wired but not listening: tests start it on port 0. */
export function createNotesService({ config, pool, logger, publish, platform, metrics }: NotesDeps): Service {
  return createService({
    name: 'notes',
    router: createNotesRouter(createNotesStore(pool), publish),
    config,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(platform ? { rateLimiter: platform.rateLimiter, idempotency: platform.idempotency } : {}),
    dependencies: { postgres: () => pool.query('SELECT 1'), ...(platform ? { redis: () => platform.redis.ping() } : {}) },
  });
}
