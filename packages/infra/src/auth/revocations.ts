import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The channel revocations are announced on, and the hash that keeps them. */
export const REVOCATIONS_CHANNEL = 'auth:revocations';
export const REVOCATIONS_HASH = 'auth:revoked-before';
export const REVOKED_SESSIONS_HASH = 'auth:revoked-sessions';

/**
 * Per user, the time before which their access tokens are revoked (logout everywhere, a disabled
 * user), and per sign-in, whether it was logged out (its access tokens carry its id as `sid`). Every instance keeps the list in memory, so a request costs no Redis round trip; a
 * revocation is published and applied by every instance within milliseconds. Entries older than
 * the access token lifetime are useless and dropped. After a Redis restart that lost the hash,
 * running instances keep what they knew; a new instance could accept a revoked token only until
 * it expires (the access token lifetime bounds the exposure).
 */
export class Revocations {
  private readonly before = new Map<string, number>();
  /** Logged-out sign-ins: session id to the time (ms) its last access token expires. */
  private readonly sessions = new Map<string, number>();

  constructor(private readonly lifetimeMs: number) {}

  /** The time (ms) before which `userId`'s tokens are revoked. */
  revokedBefore = (userId: string): number | undefined => this.before.get(userId);

  /** Whether a sign-in was logged out (while its tokens can still be alive). */
  sessionRevoked = (sessionId: string): boolean => {
    const until = this.sessions.get(sessionId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.sessions.delete(sessionId);
    return false;
  };

  apply(userId: string, at: number): void {
    if ((this.before.get(userId) ?? 0) < at) this.before.set(userId, at);
  }

  applySession(sessionId: string, until: number): void {
    if (until > Date.now()) this.sessions.set(sessionId, until);
  }

  /** Loads the known revocations and follows new ones. `subscriber` must be a blocking-role connection. */
  async follow(redis: Redis, subscriber: Redis, logger?: Logger): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== REVOCATIONS_CHANNEL) return;
      const [kind, id, at] = message.split(' ');
      if (!id || !(Number(at) > 0)) return;
      if (kind === 'user') this.apply(id, Number(at));
      if (kind === 'session') this.applySession(id, Number(at));
    });
    await subscriber.subscribe(REVOCATIONS_CHANNEL);
    try {
      const known = await redis.hgetall(REVOCATIONS_HASH);
      const horizon = Date.now() - this.lifetimeMs;
      for (const [userId, at] of Object.entries(known)) if (Number(at) > horizon) this.apply(userId, Number(at));
      for (const [sessionId, until] of Object.entries(await redis.hgetall(REVOKED_SESSIONS_HASH)))
        this.applySession(sessionId, Number(until));
    } catch (err) {
      logger?.warn({ err: { message: (err as Error).message } }, 'revocations: could not load the known list');
    }
  }

  /** Revokes every access token `userId` holds now, on every instance. */
  static async publish(redis: Redis, userId: string, at = Date.now()): Promise<void> {
    await redis.multi().hset(REVOCATIONS_HASH, userId, String(at)).publish(REVOCATIONS_CHANNEL, `user ${userId} ${at}`).exec();
  }

  /** Revokes the access tokens of one sign-in (logout), on every instance, until they expire anyway. */
  static async publishSession(redis: Redis, sessionId: string, until: number): Promise<void> {
    await redis
      .multi()
      .hset(REVOKED_SESSIONS_HASH, sessionId, String(until))
      .publish(REVOCATIONS_CHANNEL, `session ${sessionId} ${until}`)
      .exec();
  }
}
