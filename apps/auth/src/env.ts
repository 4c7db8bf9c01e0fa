import { z } from 'zod';
import {
  databaseEnvShape,
  loadConfig,
  portVar,
  positiveIntVar,
  requireDatabaseInProduction,
  serviceEnvShape,
} from '@switchyard/infra/config';

const AuthEnv = z
  .object({
    ...serviceEnvShape,
    PORT: portVar(4002),
    METRICS_PORT: portVar(9402),
    ...databaseEnvShape('.data/auth'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected a redis:// URL'),
    /** Seals the private signing keys stored in the database. 32+ characters. */
    AUTH_KEY_SECRET: z.string().min(32, 'expected at least 32 characters'),
    /** A signing key signs for this many days, then a new one takes over (the old one keeps verifying). */
    KEY_ROTATION_DAYS: positiveIntVar(30),
    /** Refresh tokens live this long, in days. */
    REFRESH_TOKEN_DAYS: positiveIntVar(30),
    /** scrypt cost (N, a power of two). */
    SCRYPT_COST: positiveIntVar(16_384),
    /** Marks the refresh cookie `Secure` (turn off only for plain-HTTP development). */
    COOKIE_SECURE: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
  })
  .superRefine((env, ctx) => {
    requireDatabaseInProduction(env, ctx);
    if ((env.SCRYPT_COST & (env.SCRYPT_COST - 1)) !== 0 || env.SCRYPT_COST < 1024) {
      ctx.addIssue({ code: 'custom', path: ['SCRYPT_COST'], message: 'expected a power of two >= 1024' });
    }
  });

export type AuthConfig = z.output<typeof AuthEnv>;

/** Reads and validates the environment: the only reader of `process.env` in this service. */
export function readEnv(env: Record<string, string | undefined> = process.env): AuthConfig {
  return loadConfig(AuthEnv, env);
}
