import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import superjson from 'superjson';
import type { z } from 'zod';
import type { EventDef } from '@switchyard/api-contracts';

/** Options of {@link publishEvent}. */
export interface PublishOptions {
  /** The stream is trimmed to about this many entries (MAXLEN ~). @default 100000 */
  maxLen?: number;
}

/**
 * Appends an event to its stream (XADD, approximately trimmed) after checking the payload against
 * its contract. Returns the event's id (a UUID, the consumers' deduplication key).
 */
export async function publishEvent<E extends EventDef>(
  redis: Redis,
  def: E,
  payload: z.input<E['payload']>,
  options: PublishOptions = {},
): Promise<string> {
  const parsed = def.payload.parse(payload);
  const id = randomUUID();
  await redis.xadd(
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
  return id;
}
