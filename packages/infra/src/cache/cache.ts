import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Counter, type Registry } from 'prom-client';
import superjson from 'superjson';
import type { z } from 'zod';
import { METRIC } from '../metrics/names.js';
import { sharedCounter } from '../metrics/shared-metric.js';
import { now } from '../policies/deadline.js';
import { RedisUnhealthyError, redisHealth, type RedisHealth } from '../redis/health.js';

/** Options of {@link Cache}. */
export interface CacheOptions<S extends z.ZodType> {
  /** A `request`-role connection. */
  redis: Redis;
  /** A `blocking`-role connection, used to hear invalidations from other instances. */
  subscriber: Redis;
  /** The cache's namespace, e.g. `notes:author`: keys are `<name>:<key>`. */
  name: string;
  /** What an entry must parse as; an entry that does not is a miss. */
  schema: S;
  ttlSeconds: number;
  /** The longest a read waits for Redis before going to the origin. @default 100 */
  timeoutMs?: number;
  registry?: Registry;
  logger?: Logger;
}

type Outcome = 'hit' | 'miss' | 'corrupt' | 'error' | 'shared' | 'bypassed';

/**
 * Cache-aside in Redis (values as superjson, so dates survive), typed by a zod schema: `get(key, load)` returns the cached value or loads
 * it from the origin and stores it for `ttlSeconds`. Concurrent misses of one key in this instance
 * share one load (single flight). `invalidate(key)` deletes the entry and tells every instance, so
 * a load that started before the write is not stored. A Redis error never fails the caller: it
 * costs a trip to the origin. While the connection's {@link RedisHealth} says Redis is out, the
 * cache is bypassed at once (reads go to the origin, nothing is stored).
 */
export class Cache<S extends z.ZodType> {
  private readonly inflight = new Map<string, Promise<z.output<S>>>();
  /** When each key was last invalidated (this process's clock), to drop stale loads. */
  private readonly invalidatedAt = new Map<string, number>();
  private readonly channel: string;
  private readonly requests: Counter<'cache' | 'outcome'> | undefined;
  private readonly ready: Promise<void>;
  private readonly health: RedisHealth;
  private readonly timeoutMs: number;

  constructor(private readonly options: CacheOptions<S>) {
    this.channel = `${options.name}:invalidate`;
    this.health = redisHealth(options.redis);
    this.timeoutMs = options.timeoutMs ?? 100;
    if (options.registry) {
      this.requests = sharedCounter(options.registry, {
        name: METRIC.cacheRequests,
        help: 'Cache reads by cache and outcome (hit, miss, corrupt, error, shared, bypassed while Redis is out).',
        labelNames: ['cache', 'outcome'],
      });
    }
    options.subscriber.on('message', (channel: string, key: string) => {
      if (channel === this.channel) this.forget(key);
    });
    this.ready = options.subscriber.subscribe(this.channel).then(
      () => undefined,
      (err: unknown) =>
        options.logger?.warn({ err: { message: (err as Error).message } }, 'cache: could not subscribe to invalidations'),
    );
  }

  /** Resolves once this instance hears invalidations. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The value of `key`: from the cache, else from `load` (stored afterwards). */
  get(key: string, load: () => Promise<z.input<S>>): Promise<z.output<S>> {
    const pending = this.inflight.get(key);
    if (pending) {
      this.count('shared');
      return pending;
    }
    const started = now();
    const promise = this.read(key)
      .then(async (cached) => {
        if (cached.found) return cached.value;
        const value = this.options.schema.parse(await load()) as z.output<S>;
        // A write since this load began makes its value stale: do not store it.
        if ((this.invalidatedAt.get(key) ?? -Infinity) < started) this.store(key, value);
        return value;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  /** Drops `key` here and on every instance. Call it after the owner writes. */
  async invalidate(key: string): Promise<void> {
    this.forget(key);
    const redisKey = this.keyOf(key);
    try {
      const { redis } = this.options;
      await this.health.run('cache', () => redis.multi().del(redisKey).publish(this.channel, key).exec(), this.timeoutMs);
    } catch (err) {
      this.options.logger?.warn(
        { err: { message: (err as Error).message }, cache: this.options.name },
        'cache: invalidation failed; the entry expires with its TTL',
      );
    }
  }

  private forget(key: string): void {
    this.invalidatedAt.set(key, now());
    this.inflight.delete(key);
    if (this.invalidatedAt.size > 10_000) this.invalidatedAt.clear();
  }

  private async read(key: string): Promise<{ found: true; value: z.output<S> } | { found: false }> {
    let raw: string | null;
    try {
      raw = await this.health.run('cache', () => this.options.redis.get(this.keyOf(key)), this.timeoutMs);
    } catch (err) {
      this.count(err instanceof RedisUnhealthyError ? 'bypassed' : 'error');
      return { found: false };
    }
    if (raw === null) {
      this.count('miss');
      return { found: false };
    }
    let parsed: unknown;
    try {
      parsed = superjson.parse(raw);
    } catch {
      parsed = undefined;
    }
    const result = this.options.schema.safeParse(parsed);
    if (!result.success) {
      this.count('corrupt');
      return { found: false };
    }
    this.count('hit');
    return { found: true, value: result.data as z.output<S> };
  }

  private store(key: string, value: z.output<S>): void {
    const write = () => this.options.redis.set(this.keyOf(key), superjson.stringify(value), 'EX', this.options.ttlSeconds);
    this.health.run('cache', write, this.timeoutMs).catch((err) => {
      if (!(err instanceof RedisUnhealthyError)) this.count('error');
    });
  }

  private keyOf(key: string): string {
    return `${this.options.name}:${key}`;
  }

  private count(outcome: Outcome): void {
    this.requests?.inc({ cache: this.options.name, outcome });
  }
}
