import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from '@switchyard/infra/redis';

/**
 * Rotates a refresh token atomically. KEYS: token, family. ARGV: secret hash, new token id,
 * new secret hash, ttl seconds, new token key.
 * Replies: {'ok', user, family} | {'unknown'} | {'reused', user} | {'revoked'}.
 */
const ROTATE = `
local t = redis.call('HGETALL', KEYS[1])
if #t == 0 then return {'unknown'} end
local token = {}
for i = 1, #t, 2 do token[t[i]] = t[i + 1] end
if token.secret ~= ARGV[1] then return {'unknown'} end
local current = redis.call('HGET', KEYS[2], 'current')
if not current then return {'revoked'} end
if current ~= token.id then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', 'auth:rtu:' .. token.user, token.family)
  return {'reused', token.user}
end
redis.call('HSET', KEYS[1], 'state', 'used')
redis.call('HSET', ARGV[5], 'id', ARGV[2], 'family', token.family, 'user', token.user, 'secret', ARGV[3], 'state', 'active')
redis.call('EXPIRE', ARGV[5], ARGV[4])
redis.call('HSET', KEYS[2], 'current', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {'ok', token.user, token.family}
`;

const FORMAT = /^rt1\.([0-9a-f-]{36})\.([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;
const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');
const tokenKey = (id: string) => `auth:rt:${id}`;
const familyKey = (id: string) => `auth:rtf:${id}`;
const userKey = (id: string) => `auth:rtu:${id}`;

/** The outcome of using a refresh token. */
export type RefreshOutcome =
  | { ok: true; userId: string; token: string; family: string }
  | { ok: false; reason: 'unknown' | 'reused' | 'revoked'; userId?: string; family?: string };

/** The sign-in (family) a refresh token belongs to, if it is one. */
export function familyOf(token: string): string | undefined {
  return FORMAT.exec(token)?.[1];
}

/**
 * Refresh tokens: opaque (`rt1.<family>.<id>.<secret>`), kept in Redis as an allow-list, so a lost
 * or flushed Redis logs people out and never revives a revoked token. Each use rotates the token
 * (a Lua script, atomic across instances: of concurrent uses of one token exactly one wins); using
 * any earlier token of a family revokes the whole family, the newest token included.
 */
export function createRefreshTokens(redis: Redis, ttlSeconds: number) {
  const mint = (family: string, userId: string) => {
    const id = randomUUID();
    const secret = randomBytes(32).toString('base64url');
    return {
      id,
      secret,
      token: `rt1.${family}.${id}.${secret}`,
      fields: ['id', id, 'family', family, 'user', userId, 'secret', digest(secret), 'state', 'active'],
    };
  };

  return {
    /** A new family for a sign-in: its first token and the family (session) id. */
    async issue(userId: string): Promise<{ token: string; family: string }> {
      const family = randomUUID();
      const first = mint(family, userId);
      await redis
        .multi()
        .hset(tokenKey(first.id), ...first.fields)
        .expire(tokenKey(first.id), ttlSeconds)
        .hset(familyKey(family), 'current', first.id, 'user', userId)
        .expire(familyKey(family), ttlSeconds)
        .sadd(userKey(userId), family)
        .expire(userKey(userId), ttlSeconds)
        .exec();
      return { token: first.token, family };
    },

    async rotate(token: string): Promise<RefreshOutcome> {
      const match = FORMAT.exec(token);
      if (!match) return { ok: false, reason: 'unknown' };
      const [, family, id, secret] = match as unknown as [string, string, string, string];
      const next = mint(family, '');
      const reply = (await redis.eval(
        ROTATE,
        2,
        tokenKey(id),
        familyKey(family),
        digest(secret),
        next.id,
        digest(next.secret),
        ttlSeconds,
        tokenKey(next.id),
      )) as string[];
      if (reply[0] === 'ok') return { ok: true, userId: reply[1]!, token: next.token, family };
      return {
        ok: false,
        reason: reply[0] as 'unknown' | 'reused' | 'revoked',
        family,
        ...(reply[1] ? { userId: reply[1] } : {}),
      };
    },

    /** Ends one sign-in (the token's family); returns the family id. */
    async revokeFamilyOf(token: string): Promise<string | undefined> {
      const family = familyOf(token);
      if (family) await redis.del(familyKey(family));
      return family;
    },

    /** Ends every sign-in of a user. */
    async revokeAll(userId: string): Promise<void> {
      const families = await redis.smembers(userKey(userId));
      await redis.del(userKey(userId), ...families.map(familyKey));
    },
  };
}

export type RefreshTokens = ReturnType<typeof createRefreshTokens>;
