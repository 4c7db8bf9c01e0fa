import { z } from 'zod';
import { ConfigError } from './config.js';

/**
 * The database variables of a service that owns one: `DATABASE_URL`, or in development an
 * embedded database in `DATA_DIR`. Pair with {@link requireDatabaseInProduction}.
 */
export const databaseEnvShape = (defaultDataDir: string) =>
  ({
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
      .optional(),
    DATA_DIR: z.string().min(1).default(defaultDataDir),
  }) as const;

/** A refinement: production (an unset NODE_ENV) needs a real database. */
export function requireDatabaseInProduction(
  env: { DATABASE_URL?: string | undefined; NODE_ENV: string },
  ctx: z.RefinementCtx,
): void {
  if (env.DATABASE_URL === undefined && env.NODE_ENV === 'production') {
    ctx.addIssue({
      code: 'custom',
      path: ['DATABASE_URL'],
      message: 'required in production (or set NODE_ENV=development to use the embedded database)',
    });
  }
}

/**
 * Reads a service's configuration in its entry point: a bad variable prints one line naming it
 * (`<service>: invalid environment: ...`) and exits 1.
 */
export function configOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(1);
  }
}
