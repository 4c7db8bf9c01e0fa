import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import superjson from 'superjson';
import type { z } from 'zod';
import type { EventDef } from '@switchyard/api-contracts';
import { METRIC } from '../metrics/names.js';
import { sharedCounter } from '../metrics/shared-metric.js';
import { redisHealth } from '../redis/health.js';

/** Options of {@link publishEvent}. */
export interface PublishOptions {
  /** The stream is trimmed to about this many entries (MAXLEN ~). @default 100000 */
  maxLen?: number;
  /** The longest the append waits for Redis, in ms (lag-aware). @default 200 */
  timeoutMs?: number;
}

/**
 * Appends an event to its stream (XADD, approximately trimmed) after checking the payload against
 * its contract. Returns the event's id (a UUID, the consumers' deduplication key). Rejects at once
 * while the connection's `RedisHealth` says Redis is out, else after `timeoutMs` at most.
 */
export async function publishEvent<E extends EventDef>(
  redis: Redis,
  def: E,
  payload: z.input<E['payload']>,
  options: PublishOptions = {},
): Promise<string> {
  const parsed = def.payload.parse(payload);
  const id = randomUUID();
  const append = () =>
    redis.xadd(
      def.stream,
      'MAXLEN',
      '~',
      String(options.maxLen ?? 100_000),
      '*',
      'id',
      id,
      'type',
      def.name,
      'version',
      String(def.version),
      'occurredAt',
      new Date().toISOString(),
      'payload',
      superjson.stringify(parsed),
    );
  await redisHealth(redis).run('publish', append, options.timeoutMs ?? 200);
  return id;
}

/** Publishes an event for a caller whose own work already stands: never rejects. */
export type EventPublisher = <E extends EventDef>(def: E, payload: z.input<E['payload']>) => Promise<void>;

/**
 * A publisher for events that follow a committed write: {@link publishEvent}, bounded the same way,
 * and an event Redis cannot take is logged with its payload (`event not published`) and counted
 * (`switchyard_events_unpublished_total`) instead of failing the write's caller, who would retry
 * a write that happened.
 * @example const publish = createEventPublisher({ redis, logger, registry }); await publish(NoteCreated, payload);
 */
export function createEventPublisher(options: { redis: Redis; logger: Logger; registry?: Registry }): EventPublisher {
  const { redis, logger, registry } = options;
  const lost = registry
    ? sharedCounter(registry, {
        name: METRIC.eventsUnpublished,
        help: 'Events not published because Redis was out or did not answer in time, by event.',
        labelNames: ['event'],
      })
    : undefined;
  return async (def, payload) => {
    try {
      await publishEvent(redis, def, payload);
    } catch (err) {
      lost?.inc({ event: def.name });
      logger.error({ err: { message: (err as Error).message }, event: def.name, payload }, 'event not published');
    }
  };
}
