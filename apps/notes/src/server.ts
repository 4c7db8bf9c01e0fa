import type pg from 'pg';
import { type authContract, UserSchema } from '@switchyard/api-contracts';
import type { VerifiedAccess } from '@switchyard/infra/auth';
import { Cache } from '@switchyard/infra/cache';
import { isUnavailable, type ServiceClient } from '@switchyard/infra/client';
import type { Logger } from '@switchyard/infra/logging';
import type { ServiceMetrics } from '@switchyard/infra/metrics';
import type { Redis, RedisPlatform } from '@switchyard/infra/redis';
import { createService, type Service } from '@switchyard/infra/server';
import type { NotesConfig } from './env.js';
import { createNotesRouter, type AuthorLookup, type PublishNoteEvent } from './router.js';
import { createNotesStore } from './store.js';

/** What the notes service needs from outside. */
export interface NotesDeps {
  config: NotesConfig;
  pool: pg.Pool;
  logger: Logger;
  /** Verifies access tokens (the auth service's JWKS); without it every procedure answers 401. */
  verifyAccessToken?: (token: string) => Promise<VerifiedAccess>;
  /** The auth service, for authors (`getUser`, internal to the mesh). */
  auth?: ServiceClient<typeof authContract>;
  /** Publishes notes' events (Redis Streams); without it none are published. */
  publish?: PublishNoteEvent;
  /** Shared rate limit, idempotency keys and the authors' cache; without Redis none applies. */
  platform?: RedisPlatform;
  /** A blocking-role connection: the authors' cache hears invalidations on it. */
  subscriber?: Redis;
  metrics?: ServiceMetrics;
}

/** Authors through auth's `getUser`, cached for a minute in Redis when there is one. */
function authorLookup(deps: NotesDeps, registry: ServiceMetrics['registry'] | undefined): AuthorLookup | undefined {
  const { auth } = deps;
  if (!auth) return undefined;
  const Author = UserSchema.pick({ id: true, email: true });
  const cache =
    deps.platform && deps.subscriber
      ? new Cache({
          redis: deps.platform.redis,
          subscriber: deps.subscriber,
          name: 'notes:author',
          schema: Author,
          ttlSeconds: 60,
          logger: deps.logger,
          ...(registry ? { registry } : {}),
        })
      : undefined;
  const load = async (ctx: Parameters<AuthorLookup>[0], id: string) => {
    const user = await auth.with(ctx).getUser.query({ id });
    return { id: user.id, email: user.email };
  };
  return async (ctx, id) => {
    try {
      return cache ? await cache.get(id, () => load(ctx, id)) : await load(ctx, id);
    } catch (error) {
      // The note is worth showing without its author when auth cannot answer.
      if (isUnavailable(error)) return null;
      throw error;
    }
  };
}

/** The notes service, wired but not listening: tests start it on port 0. */
export function createNotesService(deps: NotesDeps): Service {
  const { config, pool, logger, platform, metrics } = deps;
  return createService({
    name: 'notes',
    router: createNotesRouter({
      store: createNotesStore(pool),
      publish: deps.publish,
      author: authorLookup(deps, metrics?.registry),
    }),
    config,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(deps.verifyAccessToken ? { verifyAccessToken: deps.verifyAccessToken } : {}),
    ...(platform ? { rateLimiter: platform.rateLimiter, idempotency: platform.idempotency } : {}),
    dependencies: { postgres: () => pool.query('SELECT 1'), ...(platform ? { redis: () => platform.redis.ping() } : {}) },
    ...(deps.auth ? { breakers: () => ({ auth: deps.auth!.breakerState() }) } : {}),
  });
}
