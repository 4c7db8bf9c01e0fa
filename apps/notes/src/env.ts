import { z } from 'zod';
import {
  databaseEnvShape,
  loadConfig,
  portVar,
  positiveIntVar,
  requireDatabaseInProduction,
  serviceEnvShape,
  urlListVar,
} from '@switchyard/infra/config';

const NotesEnv = z
  .object({
    ...serviceEnvShape,
    PORT: portVar(4011),
    METRICS_PORT: portVar(9411),
    ...databaseEnvShape('.data/notes'),
    DB_POOL_MAX: positiveIntVar(10),
    /** The auth service: its JWKS verifies access tokens; its `getUser` names authors. */
    AUTH_URL: urlListVar('http://127.0.0.1:4002'),
    /** Where notes publishes its events; unset, no events are published (and it says so). */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// URL')
      .optional(),
  })
  .superRefine((env, ctx) => {
    requireDatabaseInProduction(env, ctx);
  });

/** The notes service's settings. */
export type NotesConfig = z.output<typeof NotesEnv>;

/** Reads and validates the environment: the only reader of `process.env` in this service. */
export function readEnv(env: Record<string, string | undefined> = process.env): NotesConfig {
  return loadConfig(NotesEnv, env);
}
