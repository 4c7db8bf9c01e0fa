import { ReplyError, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Counter, type Gauge, type Registry } from 'prom-client';
import { METRIC } from '../metrics/names.js';
import { sharedCounter, sharedGauge } from '../metrics/shared-metric.js';
import { lagAwareTimeout } from './lag-aware-timeout.js';

/** Options of {@link RedisHealth}. */
export interface RedisHealthOptions {
  /** The connection's name in logs and metrics, e.g. `notes-request`. */
  name: string;
  /** While unhealthy, a PING is sent this often, in ms. @default 250 */
  probeIntervalMs?: number;
  /** The longest a probe waits for its PONG, in ms (lag-aware). @default 200 */
  probeTimeoutMs?: number;
  logger?: Logger | undefined;
  registry?: Registry | undefined;
}

/** Work not attempted because its Redis connection is unhealthy. */
export class RedisUnhealthyError extends Error {
  constructor(connection: string) {
    super(`redis (${connection}) is unhealthy: not attempted`);
    this.name = 'RedisUnhealthyError';
  }
}

/**
 * Whether one Redis connection answers, shared by every user of that connection in the process
 * (rate limits, sign-in limits, cache, idempotency, events). A command that times out or fails
 * for want of a connection marks it unhealthy; from then on every user reads `healthy` (a field)
 * and takes its degraded path at once instead of waiting for its own timeout. A background PING
 * (every `probeIntervalMs`, and at once on reconnecting) marks it healthy again. Transitions are
 * logged once each and shown as `switchyard_redis_healthy`.
 * @example const reply = await health.run('cache', () => redis.get(key), 100); // RedisUnhealthyError while unhealthy
 */
export class RedisHealth {
  /** Read on every request: a plain field, no call. */
  healthy = true;
  readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly gauge: Gauge<'connection'> | undefined;
  private readonly skips: Counter<'connection' | 'user'> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisHealthOptions,
  ) {
    this.probeIntervalMs = options.probeIntervalMs ?? 250;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 200;
    const { registry } = options;
    if (registry) {
      this.gauge = sharedGauge(registry, {
        name: METRIC.redisHealthy,
        help: '1 while Redis answers the connection, 0 while its users skip it (until a probe succeeds).',
        labelNames: ['connection'],
      });
      this.gauge.labels(options.name).set(1);
      this.skips = sharedCounter(registry, {
        name: METRIC.redisSkipped,
        help: 'Redis work not attempted because Redis was unhealthy, by connection and user.',
        labelNames: ['connection', 'user'],
      });
    }
    // A lost connection fails every command at once: the users need not try. (Not on 'close',
    // which a deliberate quit emits too.)
    redis.on('reconnecting', () => this.failed(new Error('connection lost')));
    // A new connection is probed at once: its PING goes ahead of anything sent after it.
    redis.on('ready', () => {
      if (!this.healthy) void this.probe();
    });
    redis.on('end', () => this.stopProbing());
  }

  /**
   * Settles like `work`, or rejects after `timeoutMs` (lag-aware). A timeout or a connection error
   * marks Redis unhealthy; an error reply (Redis answered) or a rejection that is no error (a
   * rate limiter's "over the limit") does not.
   */
  guard<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
    return lagAwareTimeout(work, timeoutMs).catch((error: unknown) => {
      if (error instanceof Error && !(error instanceof ReplyError)) this.failed(error);
      throw error;
    });
  }

  /**
   * Runs `work` under {@link guard} while Redis is healthy. While it is not, `work` does not run:
   * the skip is counted for `user` (e.g. `cache`, `publish`) and the call rejects with
   * {@link RedisUnhealthyError} at once.
   */
  run<T>(user: string, work: () => Promise<T>, timeoutMs: number): Promise<T> {
    if (this.healthy) return this.guard(work(), timeoutMs);
    this.skips?.labels(this.options.name, user).inc();
    return Promise.reject(new RedisUnhealthyError(this.options.name));
  }

  /** Marks Redis unhealthy (once per outage in the log) and starts probing it. */
  failed(error: unknown): void {
    if (!this.healthy || this.redis.status === 'end') return;
    this.healthy = false;
    this.gauge?.labels(this.options.name).set(0);
    this.options.logger?.warn(
      { redis: this.options.name, err: { message: (error as Error)?.message } },
      'redis unhealthy: its users skip it until a probe succeeds',
    );
    this.timer = setInterval(() => void this.probe(), this.probeIntervalMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await lagAwareTimeout(this.redis.ping(), this.probeTimeoutMs);
      this.stopProbing();
      this.healthy = true;
      this.gauge?.labels(this.options.name).set(1);
      this.options.logger?.info({ redis: this.options.name }, 'redis healthy again: its users use it again');
    } catch {
      // Still out: the next tick probes again.
    } finally {
      this.probing = false;
    }
  }

  private stopProbing(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

const byClient = new WeakMap<Redis, RedisHealth>();

/**
 * The health of `redis`, one per connection: the one `createRedisClient` made for a `request`
 * connection (with its logger and metrics), else one made now without them.
 */
export function redisHealth(redis: Redis, options?: RedisHealthOptions): RedisHealth {
  let health = byClient.get(redis);
  if (!health) {
    health = new RedisHealth(redis, options ?? { name: 'redis' });
    byClient.set(redis, health);
  }
  return health;
}
