import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import superjson from 'superjson';
import type { EventDef, EventEnvelope } from '@switchyard/api-contracts';
import { METRIC } from '../metrics/names.js';

/** Options of {@link startConsumer}. Durations in ms. */
export interface ConsumerOptions<E extends EventDef> {
  /** A `blocking`-role connection, for this consumer alone. */
  redis: Redis;
  stream: string;
  /** The consumer group: consumers in one group share the stream's entries. */
  group: string;
  /** This consumer's name within the group (stable across restarts where possible). */
  consumer: string;
  /** The contracts this consumer accepts; anything else is poison. */
  events: readonly E[];
  /** Must be idempotent by `event.id`: delivery is at least once. */
  handle: (event: EventEnvelope<E>) => Promise<void>;
  /** Deliveries before an event goes to the dead-letter stream. @default 5 */
  maxAttempts?: number;
  /** @default `<stream>.dead` */
  deadLetterStream?: string;
  /** An entry pending this long (a crashed or failing consumer) is taken over and retried. @default 5000 */
  claimIdleMs?: number;
  /** @default 1000 */
  blockMs?: number;
  /** @default 50 */
  batchSize?: number;
  logger?: Logger;
  registry?: Registry;
}

/** A running consumer. */
export interface Consumer {
  /** Stops after the batch in hand (within `blockMs`). */
  stop(): Promise<void>;
}

type Fields = Record<string, string>;

function fieldsOf(raw: string[]): Fields {
  const fields: Fields = {};
  for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i]!] = raw[i + 1]!;
  return fields;
}

/**
 * Consumes a Redis stream in a consumer group: at-least-once delivery, redelivery of entries a
 * crashed or failing consumer left pending (XAUTOCLAIM after `claimIdleMs`), a dead-letter stream
 * for poison (unknown type or version, invalid payload) and for events that failed `maxAttempts`
 * times, and metrics for lag, pending, handled, failed and dead-lettered events.
 */
export async function startConsumer<E extends EventDef>(options: ConsumerOptions<E>): Promise<Consumer> {
  const { redis, stream, group, consumer } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const deadLetter = options.deadLetterStream ?? `${stream}.dead`;
  const claimIdleMs = options.claimIdleMs ?? 5_000;
  const batch = options.batchSize ?? 50;
  const log = options.logger?.child({ stream, group, consumer });
  const byType = new Map(options.events.map((def) => [`${def.name}@${def.version}`, def]));
  const metrics = options.registry ? consumerMetrics(options.registry) : undefined;
  const labels = { stream, group };

  /** Creates the group (and the stream) unless it exists: `true` when it had to. */
  const ensureGroup = async (): Promise<boolean> => {
    try {
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
      return true;
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      return false;
    }
  };
  await ensureGroup();

  /**
   * After Redis lost its data (a restart without persistence, a flush, a failover to an empty
   * replica) the group is gone and every read answers NOGROUP: the group is made again, from the
   * stream's start, and the loss is logged and counted. Events published while it was gone and
   * before the data loss are not in Redis any more.
   */
  const recover = async (err: unknown): Promise<boolean> => {
    if (!/NOGROUP|no such key/i.test(String((err as Error).message))) return false;
    if (!(await ensureGroup())) return true;
    metrics?.groupRecreated.inc(labels);
    log?.warn('consumer group was gone (Redis lost its data): created again');
    return true;
  };

  const deadLetterEntry = async (entryId: string, fields: Fields, reason: string) => {
    await redis.xadd(deadLetter, '*', ...Object.entries({ ...fields, sourceId: entryId, reason }).flat());
    await redis.xack(stream, group, entryId);
    metrics?.dead.inc(labels);
    log?.warn({ entryId, eventId: fields.id, type: fields.type, reason }, 'event dead-lettered');
  };

  const process = async (entryId: string, fields: Fields, deliveries: number) => {
    const def = byType.get(`${fields.type}@${fields.version}`);
    if (!def) return deadLetterEntry(entryId, fields, `unknown event ${fields.type}@${fields.version}`);
    let event: EventEnvelope<E>;
    try {
      const payload = def.payload.parse(superjson.parse(fields.payload ?? ''));
      if (!fields.id || !fields.occurredAt) throw new Error('missing id or occurredAt');
      event = {
        id: fields.id,
        type: def.name,
        version: def.version,
        occurredAt: new Date(fields.occurredAt),
        payload,
      } as EventEnvelope<E>;
    } catch (err) {
      return deadLetterEntry(entryId, fields, `invalid event: ${(err as Error).message.slice(0, 200)}`);
    }
    try {
      await options.handle(event);
      await redis.xack(stream, group, entryId);
      metrics?.handled.inc(labels);
    } catch (err) {
      metrics?.failed.inc(labels);
      if (deliveries >= maxAttempts)
        return deadLetterEntry(entryId, fields, `failed ${deliveries} times: ${(err as Error).message.slice(0, 200)}`);
      log?.warn(
        { entryId, eventId: event.id, deliveries, err: { message: (err as Error).message } },
        'event handling failed; it will be retried',
      );
    }
  };

  /** Takes over entries pending longer than claimIdleMs (ours or a dead consumer's) and retries them. */
  const reclaim = async () => {
    const [, entries] = (await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [
      string,
      Array<[string, string[]] | null>,
    ];
    const live = entries.filter((e): e is [string, string[]] => e !== null);
    if (live.length === 0) return;
    const pending = (await redis.xpending(
      stream,
      group,
      'IDLE',
      0,
      live[0]![0],
      live[live.length - 1]![0],
      live.length * 2,
      consumer,
    )) as Array<[string, string, number, number]>;
    const deliveries = new Map(pending.map(([id, , , count]) => [id, count]));
    for (const [id, raw] of live) await process(id, fieldsOf(raw), deliveries.get(id) ?? maxAttempts);
  };

  const readNew = async () => {
    const result = (await redis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      batch,
      'BLOCK',
      options.blockMs ?? 1_000,
      'STREAMS',
      stream,
      '>',
    )) as Array<[string, Array<[string, string[]]>]> | null;
    for (const [, entries] of result ?? []) for (const [id, raw] of entries) await process(id, fieldsOf(raw), 1);
  };

  const updateLag = async () => {
    if (!metrics) return;
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    for (const info of groups) {
      const fields = fieldsOf(info.map(String));
      if (fields.name !== group) continue;
      metrics.lag.set(labels, Number(fields.lag) || 0);
      metrics.pending.set(labels, Number(fields.pending) || 0);
    }
  };

  let stopping = false;
  const loop = (async () => {
    let lastLag = 0;
    while (!stopping) {
      try {
        await reclaim();
        await readNew();
        if (Date.now() - lastLag > 1_000) {
          lastLag = Date.now();
          await updateLag();
        }
      } catch (err) {
        if (stopping) break;
        if (await recover(err).catch(() => false)) continue;
        log?.warn({ err: { message: (err as Error).message } }, 'consumer loop error; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();

  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

interface ConsumerMetrics {
  groupRecreated: Counter<'stream' | 'group'>;
  handled: Counter<'stream' | 'group'>;
  failed: Counter<'stream' | 'group'>;
  dead: Counter<'stream' | 'group'>;
  lag: Gauge<'stream' | 'group'>;
  pending: Gauge<'stream' | 'group'>;
}

const byRegistry = new WeakMap<Registry, ConsumerMetrics>();

function consumerMetrics(registry: Registry): ConsumerMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    const labelNames = ['stream', 'group'] as const;
    const registers = [registry];
    m = {
      groupRecreated: new Counter({
        name: METRIC.eventsGroupRecreated,
        help: 'Consumer groups created again after Redis lost them.',
        labelNames,
        registers,
      }),
      handled: new Counter({ name: METRIC.eventsHandled, help: 'Events handled and acknowledged.', labelNames, registers }),
      failed: new Counter({
        name: METRIC.eventsFailed,
        help: 'Event handling failures (each is retried).',
        labelNames,
        registers,
      }),
      dead: new Counter({
        name: METRIC.eventsDeadLettered,
        help: 'Events moved to the dead-letter stream.',
        labelNames,
        registers,
      }),
      lag: new Gauge({
        name: METRIC.eventsLag,
        help: 'Entries in the stream not yet delivered to the group.',
        labelNames,
        registers,
      }),
      pending: new Gauge({
        name: METRIC.eventsPending,
        help: 'Entries delivered to the group but not acknowledged.',
        labelNames,
        registers,
      }),
    };
    byRegistry.set(registry, m);
  }
  return m;
}
