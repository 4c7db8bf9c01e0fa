import { randomBytes } from 'node:crypto';
import { authContract } from '@switchyard/api-contracts';
import { ACCESS_TOKEN, Revocations } from '@switchyard/infra/auth';
import { SwitchyardError } from '@switchyard/infra/errors';
import type { RateLimiter } from '@switchyard/infra/rate-limit';
import type { Redis } from '@switchyard/infra/redis';
import type { RequestContext } from '@switchyard/infra/trpc';
import { implement } from '@switchyard/infra/trpc';
import type { KeyStore } from './keys.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { UserStore } from './users.js';

/** The refresh cookie and the CSRF cookie a browser echoes in `x-csrf-token`. */
export const REFRESH_COOKIE = 'sy_rt';
export const CSRF_COOKIE = 'sy_csrf';
const COOKIE_PATH = '/api/auth/';

export interface AuthRouterDeps {
  users: UserStore;
  keys: KeyStore;
  refreshTokens: RefreshTokens;
  redis: Redis;
  /** Sign-in attempts per account and per address, shared by every instance. */
  loginLimits: { perAccount: RateLimiter; perAddress: RateLimiter };
  scryptCost: number;
  dummyHash: string;
  refreshTtlSeconds: number;
  cookieSecure: boolean;
}

function cookies(ctx: RequestContext): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (ctx.header('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) jar.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return jar;
}

const refused = () => new SwitchyardError('UNAUTHENTICATED', 'The refresh token is not valid');

/** The auth router: handlers only, typed from the contract. */
export function createAuthRouter(deps: AuthRouterDeps) {
  const { users, keys, refreshTokens } = deps;
  const secure = deps.cookieSecure ? '; Secure' : '';

  const setRefreshCookie = (ctx: RequestContext, token: string) => {
    ctx.setHeader(
      'set-cookie',
      `${REFRESH_COOKIE}=${token}; HttpOnly${secure}; SameSite=Strict; Path=${COOKIE_PATH}; Max-Age=${deps.refreshTtlSeconds}`,
    );
    ctx.setHeader(
      'set-cookie',
      `${CSRF_COOKIE}=${randomBytes(16).toString('base64url')}${secure}; SameSite=Strict; Path=/; Max-Age=${deps.refreshTtlSeconds}`,
    );
  };
  const clearCookies = (ctx: RequestContext) => {
    ctx.setHeader('set-cookie', `${REFRESH_COOKIE}=; HttpOnly${secure}; SameSite=Strict; Path=${COOKIE_PATH}; Max-Age=0`);
    ctx.setHeader('set-cookie', `${CSRF_COOKIE}=${secure}; SameSite=Strict; Path=/; Max-Age=0`);
  };

  /** The refresh token of the request: from the body (TS clients) or the cookie with a matching CSRF header (browsers). */
  const presentedToken = (
    ctx: RequestContext,
    fromBody: string | undefined,
  ): { token: string; viaCookie: boolean } | undefined => {
    if (fromBody) return { token: fromBody, viaCookie: false };
    const jar = cookies(ctx);
    const token = jar.get(REFRESH_COOKIE);
    if (!token) return undefined;
    const csrf = jar.get(CSRF_COOKIE);
    if (!csrf || ctx.header('x-csrf-token') !== csrf) throw new SwitchyardError('FORBIDDEN', 'Missing or wrong x-csrf-token');
    return { token, viaCookie: true };
  };

  const pair = async (
    ctx: RequestContext,
    user: { id: string; roles: readonly string[] },
    session: { token: string; family: string },
    viaCookie: boolean,
  ) => {
    if (viaCookie) setRefreshCookie(ctx, session.token);
    return {
      accessToken: await keys.signAccessToken(user, session.family),
      expiresIn: ACCESS_TOKEN.lifetimeSeconds,
      refreshToken: viaCookie ? '' : session.token,
    };
  };
  /** Ends a sign-in's access tokens on every instance (they would expire within their lifetime anyway). */
  const revokeSession = (family: string) =>
    Revocations.publishSession(
      deps.redis,
      family,
      Date.now() + (ACCESS_TOKEN.lifetimeSeconds + ACCESS_TOKEN.clockToleranceSeconds) * 1000,
    );

  return implement(authContract, {
    register: async ({ input }) => {
      // Hash first whatever happens, so a taken address answers as fast and as the same as a new one.
      const hash = await hashPassword(input.password, deps.scryptCost);
      await users.create(input.email, hash);
      return { accepted: true as const };
    },

    login: async ({ input, ctx }) => {
      const [account, address] = await Promise.all([
        deps.loginLimits.perAccount.consume(`acct:${input.email}`, 1),
        deps.loginLimits.perAddress.consume(`ip:${ctx.clientIp}`, 1),
      ]);
      // A limiter in closed mode refuses while Redis cannot decide: that is an outage (503), not
      // a caller over its limit (429). A real over-limit wins, as it is known whatever Redis does.
      const overLimit = [account, address].filter((d) => !d.allowed && d.degraded !== 'closed');
      if (overLimit.length > 0) {
        ctx.setHeader('retry-after', String(Math.max(1, Math.ceil(Math.max(...overLimit.map((d) => d.resetMs)) / 1000))));
        throw new SwitchyardError('RATE_LIMITED', 'Too many sign-in attempts; try again later');
      }
      if (!account.allowed || !address.allowed) {
        ctx.setHeader('retry-after', String(Math.max(1, Math.ceil(Math.max(account.resetMs, address.resetMs) / 1000))));
        throw new SwitchyardError('UNAVAILABLE', 'Sign-in is unavailable right now; try again shortly');
      }
      const user = await users.byEmail(input.email);
      const ok = await verifyPassword(input.password, user?.passwordHash ?? deps.dummyHash);
      if (!user || !ok || user.disabled) throw new SwitchyardError('UNAUTHENTICATED', 'Email or password is wrong');
      return pair(ctx, user, await refreshTokens.issue(user.id), input.useCookie);
    },

    refresh: async ({ input, ctx }) => {
      const presented = presentedToken(ctx, input.refreshToken);
      if (!presented) throw refused();
      const outcome = await refreshTokens.rotate(presented.token);
      if (!outcome.ok) {
        if (outcome.reason === 'reused') {
          ctx.log.warn({ userId: outcome.userId }, 'refresh token reused: its family is revoked');
          if (outcome.family) await revokeSession(outcome.family);
        }
        // A superseded token comes from a tab behind by more than one rotation: the shared cookie
        // jar already holds the newer token, which clearing would throw away.
        if (presented.viaCookie && outcome.reason !== 'superseded') clearCookies(ctx);
        throw refused();
      }
      const user = await users.byId(outcome.userId);
      if (!user || user.disabled) throw refused();
      return pair(ctx, user, { token: outcome.token, family: outcome.family }, presented.viaCookie);
    },

    logout: async ({ input, ctx }) => {
      const presented = presentedToken(ctx, input.refreshToken);
      const family = presented ? await refreshTokens.revokeFamilyOf(presented.token) : undefined;
      if (family) await revokeSession(family);
      clearCookies(ctx);
      return { ok: true as const };
    },

    logoutEverywhere: async ({ ctx }) => {
      await refreshTokens.revokeAll(ctx.user!.id);
      await Revocations.publish(deps.redis, ctx.user!.id);
      clearCookies(ctx);
      return { ok: true as const };
    },

    disableUser: async ({ input, ctx }) => {
      if (!(await users.disable(input.id))) throw new SwitchyardError('NOT_FOUND', 'User not found');
      await refreshTokens.revokeAll(input.id);
      await Revocations.publish(deps.redis, input.id);
      ctx.log.info({ userId: input.id }, 'user disabled');
      return { ok: true as const };
    },

    me: async ({ ctx }) => {
      const user = await users.byId(ctx.user!.id);
      if (!user) throw new SwitchyardError('NOT_FOUND', 'User not found');
      return { id: user.id, email: user.email, roles: user.roles, createdAt: user.createdAt };
    },

    getUser: async ({ input }) => {
      const user = await users.byId(input.id);
      if (!user) throw new SwitchyardError('NOT_FOUND', 'User not found');
      return { id: user.id, email: user.email, roles: user.roles, createdAt: user.createdAt };
    },
  });
}
