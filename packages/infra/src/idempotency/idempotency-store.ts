import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Counter, type Registry } from 'prom-client';
import superjson from 'superjson';
import { SwitchyardError } from '../errors/switchyard-error.js';
import { METRIC } from '../metrics/names.js';
import { sharedCounter } from '../metrics/shared-metric.js';
import { redisHealth, type RedisHealth } from '../redis/health.js';

export { IDEMPOTENCY_KEY_HEADER } from '../wire/index.js';

/** Options of {@link IdempotencyStore}. */
export interface IdempotencyStoreOptions {
  /** A `request`-role connection. */
  redis: Redis;
  /** e.g. `notes:idem`. */
  prefix: string;
  /** How long a result is replayed, in seconds. @default 86400 */
  ttlSeconds?: number;
  /** How long a running call holds its key; a crashed holder frees it after this, in ms. @default 30000 */
  lockMs?: number;
  /** The longest one Redis command may take, in ms. @default 250 */
  timeoutMs?: number;
  registry?: Registry;
  logger?: Logger;
}

/** One call under an idempotency key. */
export interface IdempotentCall {
  /** Who made it (user id, calling service or address): keys of different callers never meet. */
  scope: string;
  key: string;
  procedure: string;
  input: unknown;
}

type Entry = { state: 'pending' } | { state: 'done'; result: string };

/**
 * Runs a mutation once per idempotency key: the first call runs and stores its result; a repeat
 * gets the stored result; a concurrent duplicate waits for the first and gets its result. The
 * record is keyed by caller, key, procedure and input, so a key reused with another input is
 * another call. A call that fails frees its key, so it can be tried again. Without Redis the
 * guarantee cannot be given, and the call is refused with 503 rather than run unguarded: at once
 * while the connection's {@link RedisHealth} says Redis is out, else after `timeoutMs`.
 */
export class IdempotencyStore {
  private readonly ttlSeconds: number;
  private readonly lockMs: number;
  private readonly timeoutMs: number;
  private readonly health: RedisHealth;
  private readonly replays: Counter<'procedure'> | undefined;

  constructor(private readonly options: IdempotencyStoreOptions) {
    this.ttlSeconds = options.ttlSeconds ?? 86_400;
    this.lockMs = options.lockMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 250;
    this.health = redisHealth(options.redis);
    if (options.registry) {
      this.replays = sharedCounter(options.registry, {
        name: METRIC.idempotencyReplays,
        help: 'Mutations answered from a stored result.',
        labelNames: ['procedure'],
      });
    }
  }

  /** Runs `work` once for `call`, or returns the result it already gave. */
  async run<T>(call: IdempotentCall, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const fingerprint = createHash('sha256')
      .update(superjson.stringify(call.input ?? null))
      .digest('base64url');
    const recordKey = `${this.options.prefix}:${call.scope}:${call.key}:${call.procedure}:${fingerprint}`;
    for (;;) {
      const acquired = await this.redis(() =>
        this.options.redis.set(recordKey, JSON.stringify({ state: 'pending' }), 'PX', this.lockMs, 'NX'),
      );
      if (acquired === 'OK') return this.runFirst(recordKey, work);
      // Someone holds or held this call: wait for its result.
      for (;;) {
        if (signal?.aborted)
          throw new SwitchyardError('DEADLINE_EXCEEDED', 'Gave up waiting for the first call with this Idempotency-Key');
        const raw = await this.redis(() => this.options.redis.get(recordKey));
        if (raw === null) break; // It failed and freed the key: try to run it ourselves.
        const entry = JSON.parse(raw) as Entry;
        if (entry.state === 'done') {
          this.replays?.inc({ procedure: call.procedure });
          return superjson.parse<T>(entry.result);
        }
        await sleep(20);
      }
    }
  }

  private async runFirst<T>(recordKey: string, work: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await this.redis(() => this.options.redis.del(recordKey)).catch(() => undefined);
      throw error;
    }
    const entry: Entry = { state: 'done', result: superjson.stringify(result) };
    await this.redis(() => this.options.redis.set(recordKey, JSON.stringify(entry), 'EX', this.ttlSeconds)).catch(
      (err: unknown) => {
        // The call ran; only its replay is lost. The pending mark expires after lockMs.
        this.options.logger?.error({ err: { message: (err as Error).message } }, 'idempotency: could not store a result');
      },
    );
    return result;
  }

  private async redis<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await this.health.run('idempotency', command, this.timeoutMs);
    } catch (err) {
      throw unavailable(err);
    }
  }
}

function unavailable(cause: unknown): SwitchyardError {
  return new SwitchyardError('UNAVAILABLE', 'Idempotency-Key cannot be honoured right now; retry shortly', { cause });
}
