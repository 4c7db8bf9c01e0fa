import { z } from 'zod';
import { loadConfig, portVar, positiveIntVar, serviceEnvShape } from '@switchyard/infra/config';

const NotesEnv = z
  .object({
    ...serviceEnvShape,
    PORT: portVar(4001),
    METRICS_PORT: portVar(9401),
    /** The notes database. Unset: an embedded PostgreSQL (PGlite), in development only. */
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
      .optional(),
    /** Where the embedded database keeps its data. */
    DATA_DIR: z.string().min(1).default('.data/notes'),
    DB_POOL_MAX: positiveIntVar(10),
    /** Where notes publishes its events; unset, no events are published (and it says so). */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// URL')
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_URL === undefined && env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: 'required in production (or set NODE_ENV=development to use the embedded database)',
      });
    }
  });

/** The notes service's settings. */
export type NotesConfig = z.output<typeof NotesEnv>;

/** Reads and validates the environment: the only reader of `process.env` in this service. */
export function readEnv(env: Record<string, string | undefined> = process.env): NotesConfig {
  return loadConfig(NotesEnv, env);
}
