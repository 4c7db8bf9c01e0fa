import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The channel revocations are announced on, and the hash that keeps them. */
export const REVOCATIONS_CHANNEL = 'auth:revocations';
export const REVOCATIONS_HASH = 'auth:revoked-before';

/**
 * Per user, the time before which their access tokens are revoked (logout everywhere, a disabled
 * user). Every instance keeps the list in memory, so a request costs no Redis round trip; a
 * revocation is published and applied by every instance within milliseconds. Entries older than
 * the access token lifetime are useless and dropped. After a Redis restart that lost the hash,
 * running instances keep what they knew; a new instance could accept a revoked token only until
 * it expires (the access token lifetime bounds the exposure).
 */
export class Revocations {
  private readonly before = new Map<string, number>();

  constructor(private readonly lifetimeMs: number) {}

  /** The time (ms) before which `userId`'s tokens are revoked. */
  revokedBefore = (userId: string): number | undefined => this.before.get(userId);

  apply(userId: string, at: number): void {
    if ((this.before.get(userId) ?? 0) < at) this.before.set(userId, at);
  }

  /** Loads the known revocations and follows new ones. `subscriber` must be a blocking-role connection. */
  async follow(redis: Redis, subscriber: Redis, logger?: Logger): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== REVOCATIONS_CHANNEL) return;
      const [userId, at] = message.split(' ');
      if (userId && Number(at) > 0) this.apply(userId, Number(at));
    });
    await subscriber.subscribe(REVOCATIONS_CHANNEL);
    try {
      const known = await redis.hgetall(REVOCATIONS_HASH);
      const horizon = Date.now() - this.lifetimeMs;
      for (const [userId, at] of Object.entries(known)) if (Number(at) > horizon) this.apply(userId, Number(at));
    } catch (err) {
      logger?.warn({ err: { message: (err as Error).message } }, 'revocations: could not load the known list');
    }
  }

  /** Revokes every access token `userId` holds now, on every instance. */
  static async publish(redis: Redis, userId: string, at = Date.now()): Promise<void> {
    await redis.multi().hset(REVOCATIONS_HASH, userId, String(at)).publish(REVOCATIONS_CHANNEL, `${userId} ${at}`).exec();
  }
}
