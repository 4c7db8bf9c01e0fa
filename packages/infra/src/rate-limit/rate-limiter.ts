import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { METRIC } from '../metrics/names.js';
import { lagAwareTimeout } from '../redis/lag-aware-timeout.js';

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
  /** While degraded, one request every this many ms tries Redis again. @default 250 */
  probeIntervalMs?: number;
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
 * While Redis is down or frozen it degrades instead of waiting: after a failure, requests are
 * decided by the degraded mode at once, and one request per `probeIntervalMs` tries Redis again,
 * so shared limiting returns within about that interval (plus the client's reconnect) of Redis
 * coming back, and no request waits longer than the Redis command timeout.
 */
export class RateLimiter {
  readonly points: number;
  private readonly shared: RateLimiterRedis;
  private readonly local: RateLimiterMemory;
  private readonly mode: DegradedMode;
  private readonly probeIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly degradedCount: Counter<'mode'> | undefined;
  private readonly rejectedCount: Counter<'degraded'> | undefined;
  private healthy = true;
  private probing = false;
  private nextProbeAt = 0;

  constructor(private readonly options: RateLimiterOptions) {
    if (!(options.points > 0 && options.windowSeconds > 0))
      throw new RangeError('RateLimiter: points and windowSeconds must be positive');
    this.points = options.points;
    this.mode = options.mode ?? 'open';
    this.probeIntervalMs = options.probeIntervalMs ?? 250;
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
      this.degradedCount = counter(
        options.registry,
        METRIC.rateLimitDegraded,
        'Rate-limit decisions made without Redis, by degraded mode.',
        ['mode'],
      );
      this.rejectedCount = counter(options.registry, METRIC.rateLimited, 'Requests refused by the rate limiter (429).', [
        'degraded',
      ]);
    }
  }

  /** Takes `cost` points from `key`'s window. */
  async consume(key: string, cost: number): Promise<RateLimitDecision> {
    if (this.shouldTryRedis()) {
      try {
        const res = await lagAwareTimeout(this.shared.consume(key, cost), this.timeoutMs);
        this.recovered();
        return this.decision(true, res);
      } catch (outcome) {
        if (outcome instanceof RateLimiterRes) {
          this.recovered();
          this.rejectedCount?.inc({ degraded: 'no' });
          return this.decision(false, outcome);
        }
        this.failed(outcome);
      }
    }
    this.degradedCount?.inc({ mode: this.mode });
    if (this.mode === 'closed')
      return { allowed: false, limit: this.points, remaining: 0, resetMs: this.probeIntervalMs, degraded: 'closed' };
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

  private shouldTryRedis(): boolean {
    if (this.healthy) return true;
    const at = Date.now();
    if (this.probing || at < this.nextProbeAt) return false;
    this.probing = true;
    this.nextProbeAt = at + this.probeIntervalMs;
    return true;
  }

  private recovered(): void {
    if (!this.healthy) this.options.logger?.info('rate limiter: Redis answers again, limits are shared');
    this.healthy = true;
    this.probing = false;
  }

  private failed(error: unknown): void {
    if (this.healthy) {
      this.options.logger?.warn(
        { err: { message: (error as Error)?.message }, mode: this.mode },
        'rate limiter: Redis failed, degraded',
      );
    }
    this.healthy = false;
    this.probing = false;
    this.nextProbeAt = Date.now() + this.probeIntervalMs;
  }
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] })
  );
}
