import { z } from 'zod';
import { defineContract } from './contract.js';

/** Longest password accepted, in characters (scrypt hashes any length; this bounds the work). */
export const PASSWORD_MAX = 256;
export const PASSWORD_MIN = 10;

/** An email address, normalised: trimmed and lower-cased. */
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address' }).max(254));

const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`)
  .refine((p) => /[A-Za-z]/.test(p) && /[^A-Za-z]/.test(p), 'must mix letters with digits or symbols');

export const TokenPairSchema = z.object({
  accessToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
  /** Opaque; rotated on every use. Browsers get it as an HttpOnly cookie instead (empty here). */
  refreshToken: z.string(),
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

export const UserSchema = z.object({ id: z.uuid(), email: z.string(), roles: z.array(z.string()), createdAt: z.date() });
export type User = z.infer<typeof UserSchema>;

/** The auth service: accounts, sign-in, tokens. */
export const authContract = defineContract({
  register: {
    type: 'mutation',
    input: z.strictObject({ email: EmailSchema, password: PasswordSchema }),
    // The same answer whether or not the address was already registered: no enumeration.
    output: z.object({ accepted: z.literal(true) }),
    access: 'public',
    rateLimitCost: 5,
  },
  login: {
    type: 'mutation',
    input: z.strictObject({
      email: EmailSchema,
      password: z.string().min(1).max(PASSWORD_MAX),
      useCookie: z.boolean().default(false),
    }),
    output: TokenPairSchema,
    access: 'public',
    rateLimitCost: 5,
  },
  refresh: {
    type: 'mutation',
    /** TS clients send the token; browsers send the cookie and an `x-csrf-token` header. */
    input: z.strictObject({ refreshToken: z.string().max(300).optional() }),
    output: TokenPairSchema,
    access: 'public',
  },
  logout: {
    type: 'mutation',
    input: z.strictObject({ refreshToken: z.string().max(300).optional() }),
    output: z.object({ ok: z.literal(true) }),
    access: 'public',
  },
  logoutEverywhere: { type: 'mutation', input: z.strictObject({}), output: z.object({ ok: z.literal(true) }), access: 'user' },
  /** Disables an account: its sessions end and its access tokens fail everywhere within a second. */
  disableUser: {
    type: 'mutation',
    input: z.strictObject({ id: z.uuid() }),
    output: z.object({ ok: z.literal(true) }),
    access: { roles: ['admin'] },
  },
  me: { type: 'query', input: z.strictObject({}), output: UserSchema, access: 'user' },
  /** For the services mesh.json lets call auth (notes shows authors): internal only. */
  getUser: {
    type: 'query',
    input: z.strictObject({ id: z.uuid() }),
    output: UserSchema,
    access: 'mesh',
    timeoutMs: 1_000,
  },
});
export type AuthContract = typeof authContract;
