import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Counter, type Registry } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { METRIC } from '../metrics/names.js';
import { sharedCounter } from '../metrics/shared-metric.js';
import { redisHealth, type RedisHealth } from '../redis/health.js';

/** What to do while Redis cannot be reached. */
export type DegradedMode =
  /** Keep serving, limited per instance in memory (points divided by the instance count). */
  | 'open'
  /** Refuse with 503 until Redis answers again. */
  | 'closed';

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** A `request`-role connection (fail-fast). */
  redis: Redis;
  /** Prefix of the limiter's keys, e.g. `notes:rl`. */
  keyPrefix: string;
  /** Points per key per window. */
  points: number;
  /** The window, in seconds. */
  windowSeconds: number;
  /** @default 'open' */
  mode?: DegradedMode;
  /** How many instances share the limit; the in-memory fallback allows `points / instances`. @default 1 */
  instances?: number;
  /**
   * The longest a decision waits for Redis, in ms (lag-aware: see `lagAwareTimeout`). Give the
   * client a longer `commandTimeoutMs` as a backstop. @default 200
   */
  timeoutMs?: number;
  registry?: Registry;
  logger?: Logger;
}

/** One decision. `resetMs`: until the key's window ends. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
  /** Set when Redis could not decide and the degraded mode did. */
  readonly degraded?: DegradedMode;
}

/**
 * A limit shared by every instance through Redis (rate-limiter-flexible's Redis limiter: a fixed
 * window per key that starts at the key's first request, counted atomically in Redis).
 *
 * While Redis is down or frozen it degrades instead of waiting: a decision waits at most
 * `timeoutMs`, and once any user of the connection has seen Redis fail (its shared
 * {@link RedisHealth}), decisions are made by the degraded mode at once until the health's probe
 * succeeds; shared limiting returns with it.
 */
export class RateLimiter {
  readonly points: number;
  private readonly shared: RateLimiterRedis;
  private readonly local: RateLimiterMemory;
  private readonly mode: DegradedMode;
  private readonly health: RedisHealth;
  private readonly timeoutMs: number;
  private readonly degradedCount: Counter<'mode'> | undefined;
  private readonly rejectedCount: Counter<'degraded'> | undefined;

  constructor(private readonly options: RateLimiterOptions) {
    if (!(options.points > 0 && options.windowSeconds > 0))
      throw new RangeError('RateLimiter: points and windowSeconds must be positive');
    this.points = options.points;
    this.mode = options.mode ?? 'open';
    this.health = redisHealth(options.redis);
    this.timeoutMs = options.timeoutMs ?? 200;
    this.shared = new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.windowSeconds,
      rejectIfRedisNotReady: true,
    });
    this.local = new RateLimiterMemory({
      keyPrefix: options.keyPrefix,
      points: Math.max(1, Math.floor(options.points / (options.instances ?? 1))),
      duration: options.windowSeconds,
    });
    if (options.registry) {
      this.degradedCount = sharedCounter(options.registry, {
        name: METRIC.rateLimitDegraded,
        help: 'Rate-limit decisions made without Redis, by degraded mode.',
        labelNames: ['mode'],
      });
      this.rejectedCount = sharedCounter(options.registry, {
        name: METRIC.rateLimited,
        help: 'Requests refused by the rate limiter (429).',
        labelNames: ['degraded'],
      });
    }
  }

  /** Takes `cost` points from `key`'s window. */
  async consume(key: string, cost: number): Promise<RateLimitDecision> {
    try {
      return this.decision(true, await this.health.run('rate-limit', () => this.shared.consume(key, cost), this.timeoutMs));
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        this.rejectedCount?.inc({ degraded: 'no' });
        return this.decision(false, outcome);
      }
    }
    this.degradedCount?.inc({ mode: this.mode });
    if (this.mode === 'closed')
      return { allowed: false, limit: this.points, remaining: 0, resetMs: this.health.probeIntervalMs, degraded: 'closed' };
    try {
      return { ...this.decision(true, await this.local.consume(key, cost)), degraded: 'open' };
    } catch (outcome) {
      this.rejectedCount?.inc({ degraded: 'open' });
      return { ...this.decision(false, outcome as RateLimiterRes), degraded: 'open' };
    }
  }

  private decision(allowed: boolean, res: RateLimiterRes): RateLimitDecision {
    return { allowed, limit: this.points, remaining: Math.max(0, res.remainingPoints), resetMs: res.msBeforeNext };
  }
}
