import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { TargetUrl } from '../config/url-list.js';
import type { EndUser } from '../trpc/context.js';
import { remoteKeys } from './remote-keys.js';

/** The settings every access token is checked against: one verification path for this token kind. */
export const ACCESS_TOKEN = {
  /** The `typ` header (RFC 9068). */
  typ: 'at+jwt',
  audience: 'switchyard',
  issuer: 'switchyard-auth',
  /**
   * Signing algorithm, chosen by measurement (`node --import tsx bench/jwt-verify.ts`): ES256
   * verified in 0.84-0.91x the time of EdDSA with jose on Node 20 here.
   */
  algorithms: ['ES256'],
  /** Clock skew tolerated on exp/nbf/iat, in seconds. */
  clockToleranceSeconds: 5,
  /** Longest token accepted, in characters, checked before any parsing. */
  maxLength: 2_048,
  /** Lifetime of an access token, in seconds. */
  lifetimeSeconds: 300,
} as const;

const Claims = z.object({
  sub: z.uuid(),
  jti: z.string().min(8).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
  roles: z.array(z.string().max(32)).max(16).default([]),
  /** The sign-in (refresh family) the token belongs to: logging out of it revokes the token. */
  sid: z.uuid().optional(),
});

/** Why a token was refused: for the log only; the caller always gets the same 401. */
export class TokenRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`access token rejected: ${reason}`);
    this.name = 'TokenRejectedError';
  }
}

/** A verified access token's user, with its id and issue time for revocation checks. */
export interface VerifiedAccess {
  readonly user: EndUser;
  readonly tokenId: string;
  readonly sessionId: string | undefined;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Options of {@link createAccessTokenVerifier}. */
export interface AccessTokenVerifierOptions {
  /**
   * The auth service's JWKS, e.g. `http://auth:4002/.well-known/jwks.json`, or each of its
   * instances' JWKS (asked in order, the next when one fails; see {@link remoteKeys}).
   */
  jwksUrl?: TargetUrl;
  /** Or the keys directly (tests, the auth service itself). */
  keys?: JWTVerifyGetKey;
  /** An unknown `kid` refetches the JWKS at most once per this many ms. @default 30000 */
  jwksCooldownMs?: number;
  /** Tokens issued before this time (ms) for a user are revoked; see `Revocations`. */
  revokedBefore?: (userId: string) => number | undefined;
  /** Whether a sign-in (`sid`) was logged out; see `Revocations`. */
  sessionRevoked?: (sessionId: string) => boolean;
  /**
   * Verified tokens remembered (a signature check costs more than the rest of a request), until
   * the moment the token would stop verifying (expiry or maximum age, with the clock tolerance);
   * revocations are checked on every use all the same. `0` turns the cache off. @default 10000
   */
  cacheMaxEntries?: number;
}

interface CachedToken {
  readonly claims: { sub: string; jti: string; iat: number; exp: number; roles: string[]; sid?: string | undefined };
  /** Epoch ms after which a fresh verification would refuse the token. */
  readonly validUntil: number;
}

/**
 * Verifies access tokens locally against the auth service's JWKS (cached; an unknown `kid`
 * refreshes it at most once per cooldown), with strict settings: the algorithm allow-list, issuer,
 * audience, `typ`, required `exp`/`iat`/`sub`/`jti`, a small clock tolerance, a maximum age, and a
 * length limit before any parsing. `jku`, `x5u` and `jwk` headers are never followed.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): (token: string) => Promise<VerifiedAccess> {
  const keys = options.keys ?? remoteKeys(options.jwksUrl!, { cooldownMs: options.jwksCooldownMs ?? 30_000, timeoutMs: 2_000 });
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  // Insertion order is age order: the oldest entry goes first when the cache is full.
  const cache = new Map<string, CachedToken>();
  const accept = (claims: CachedToken['claims']): VerifiedAccess => {
    const { sub, jti, iat, exp, roles, sid } = claims;
    const revokedBefore = options.revokedBefore?.(sub);
    if (revokedBefore !== undefined && iat * 1000 < revokedBefore) throw new TokenRejectedError('revoked');
    if (sid !== undefined && options.sessionRevoked?.(sid)) throw new TokenRejectedError('session logged out');
    return { user: { id: sub, roles }, tokenId: jti, sessionId: sid, issuedAt: iat, expiresAt: exp };
  };
  return async (token) => {
    const cached = maxEntries > 0 ? cache.get(token) : undefined;
    if (cached) {
      if (Date.now() <= cached.validUntil) return accept(cached.claims);
      cache.delete(token);
    }
    if (token.length > ACCESS_TOKEN.maxLength) throw new TokenRejectedError('too long');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw new TokenRejectedError('not a compact JWS');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [...ACCESS_TOKEN.algorithms],
        issuer: ACCESS_TOKEN.issuer,
        audience: ACCESS_TOKEN.audience,
        typ: ACCESS_TOKEN.typ,
        clockTolerance: ACCESS_TOKEN.clockToleranceSeconds,
        maxTokenAge: ACCESS_TOKEN.lifetimeSeconds + ACCESS_TOKEN.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      }));
    } catch (err) {
      throw new TokenRejectedError((err as { code?: string }).code ?? (err as Error).name);
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw new TokenRejectedError('claims do not match the access token schema');
    if (maxEntries > 0) {
      const tolerance = ACCESS_TOKEN.clockToleranceSeconds;
      const maxAge = ACCESS_TOKEN.lifetimeSeconds + tolerance;
      const validUntil = Math.min(claims.data.exp + tolerance, claims.data.iat + maxAge) * 1000;
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(token, { claims: claims.data, validUntil });
    }
    return accept(claims.data);
  };
}
