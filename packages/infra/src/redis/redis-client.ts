import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC } from '../metrics/names.js';
import { now } from '../policies/deadline.js';
import { redisHealth } from './health.js';

/** What a connection is for. */
export type RedisRole =
  /**
   * On a request's path: fail fast. No offline queue (a command while disconnected fails at once),
   * one retry per command, a command timeout, capped reconnect backoff. A Redis that is down or
   * frozen costs a request at most `commandTimeoutMs`, never a hang. Its users share one
   * {@link redisHealth}: once a command of theirs fails, they skip Redis until a probe succeeds.
   */
  | 'request'
  /** Blocking reads and subscriptions: waits as long as it must, reconnects forever. */
  | 'blocking';

/** Options of {@link createRedisClient}. */
export interface CreateRedisClientOptions {
  /** `redis://host:port/db`. */
  url: string;
  role: RedisRole;
  /** The connection's name in `CLIENT LIST` and in metrics, e.g. `notes-request`. */
  name: string;
  /** For the `request` role. @default 250 */
  commandTimeoutMs?: number;
  logger?: Logger;
  registry?: Registry;
}

interface RedisMetrics {
  duration: Histogram<'connection' | 'command'>;
  errors: Counter<'connection' | 'command'>;
  state: Gauge<'connection'>;
}

const byRegistry = new WeakMap<Registry, RedisMetrics>();

function redisMetrics(registry: Registry): RedisMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = {
      duration: new Histogram({
        name: METRIC.redisCommandDuration,
        help: 'Redis command duration in seconds, by connection and command.',
        labelNames: ['connection', 'command'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
      errors: new Counter({
        name: METRIC.redisCommandErrors,
        help: 'Failed Redis commands (including timeouts and commands refused while disconnected).',
        labelNames: ['connection', 'command'],
        registers: [registry],
      }),
      state: new Gauge({
        name: METRIC.redisConnectionUp,
        help: '1 while the Redis connection is ready, else 0.',
        labelNames: ['connection'],
        registers: [registry],
      }),
    };
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

/**
 * An ioredis connection with the mesh's profile for its role (see docs/operations.md: ioredis's
 * defaults turn "Redis down" into multi-second hangs). RESP2, so replies have one shape.
 * @example const redis = createRedisClient({ url: config.REDIS_URL, role: 'request', name: 'notes-request', registry });
 */
export function createRedisClient(options: CreateRedisClientOptions): Redis {
  const common: RedisOptions = {
    connectionName: options.name,
    protocol: 2,
    connectTimeout: 1_000,
    // Reconnect quickly at first, then every 500 ms at most, forever (shared limits return within a second).
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 500),
  };
  const profile: RedisOptions =
    options.role === 'request'
      ? {
          ...common,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: options.commandTimeoutMs ?? 250,
          autoResubscribe: false,
        }
      : { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null };
  const client = new Redis(options.url, profile);
  if (options.role === 'request') redisHealth(client, { name: options.name, logger: options.logger, registry: options.registry });
  const log = options.logger?.child({ redis: options.name });
  // An 'error' event without a listener would crash the process; log it instead (once per state).
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) log?.warn({ err: { message: err.message } }, 'redis connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) log?.info('redis connection ready again');
    lastError = '';
  });

  if (options.registry) {
    const metrics = redisMetrics(options.registry);
    const connection = options.name;
    const up = metrics.state.labels(connection);
    up.set(0);
    client.on('ready', () => up.set(1));
    client.on('close', () => up.set(0));
    client.on('end', () => up.set(0));
    // Time every command where it is sent: ioredis has no per-command hook.
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command, stream) => {
      const started = now();
      const result = send(command, stream);
      const name = command.name.toLowerCase();
      command.promise.then(
        () => metrics.duration.labels(connection, name).observe((now() - started) / 1000),
        () => metrics.errors.labels(connection, name).inc(),
      );
      return result;
    }) as typeof client.sendCommand;
  }
  return client;
}

export type { Redis } from 'ioredis';

/** Closes a connection politely, or at once when Redis cannot answer (a shutdown must not hang on it). */
export function quitRedis(client: Redis): Promise<void> {
  return client.quit().then(
    () => undefined,
    () => client.disconnect(),
  );
}
