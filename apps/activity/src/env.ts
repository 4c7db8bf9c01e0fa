import { hostname } from 'node:os';
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
import { parseMeshInstances } from './mesh-status.js';

const ActivityEnv = z
  .object({
    ...serviceEnvShape,
    PORT: portVar(4003),
    METRICS_PORT: portVar(9403),
    ...databaseEnvShape('.data/activity'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected a redis:// URL'),
    /** The auth service: its JWKS verifies access tokens. */
    AUTH_URL: urlListVar('http://127.0.0.1:4002'),
    /** This consumer's name in the group. */
    CONSUMER_NAME: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .default(`${hostname()}-${process.pid}`),
    /** An event pending this long (its consumer died) is taken over. */
    CLAIM_IDLE_MS: positiveIntVar(5_000),
    EVENT_MAX_ATTEMPTS: positiveIntVar(5),
    /** Every instance of the mesh, for the status view: `auth=http://a:4002;notes=http://n1:4011,http://n2:4012`. */
    MESH_INSTANCES: z
      .string()
      .default('')
      .transform((value, ctx) => {
        const parsed = parseMeshInstances(value);
        if (typeof parsed === 'string') {
          ctx.addIssue({ code: 'custom', message: parsed });
          return z.NEVER;
        }
        return parsed;
      }),
  })
  .superRefine((env, ctx) => {
    requireDatabaseInProduction(env, ctx);
  });

export type ActivityConfig = z.output<typeof ActivityEnv>;

/** Reads and validates the environment: the only reader of `process.env` in this service. */
export function readEnv(env: Record<string, string | undefined> = process.env): ActivityConfig {
  return loadConfig(ActivityEnv, env);
}
