import { z } from 'zod';
import { parseTrustedServiceKeys } from '../identity/service-identity.js';

/** Thrown by {@link loadConfig}: its message is one line naming each bad variable. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const SECRET_NAME = /(KEY|KEYS|SECRET|PASSWORD|TOKEN|CREDENTIAL)$|_URL$/;

/**
 * Parses the environment with a zod schema. A missing or bad variable throws a {@link ConfigError}
 * whose message is one line naming it, e.g. `invalid environment: PORT: expected a port (0-65535), got "abc"`.
 * @example const config = loadConfig(NotesEnv, process.env);
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const raw = issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
    // Never echo a secret (keys, passwords, URLs that may hold credentials) into an error line.
    const got =
      raw === undefined
        ? 'not set'
        : SECRET_NAME.test(name)
          ? 'value hidden'
          : `got ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw)}`;
    return `${name}: ${issue.message} (${got})`;
  });
  return raiseConfigError(problems);
}

function raiseConfigError(problems: string[]): never {
  throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
}

/** A TCP port from the environment; 0 picks a free one. */
export const portVar = (fallback: number) =>
  z.coerce
    .number({ error: 'expected a port (0-65535)' })
    .int('expected a port (0-65535)')
    .min(0, 'expected a port (0-65535)')
    .max(65535, 'expected a port (0-65535)')
    .default(fallback);

/** A positive whole number of milliseconds or bytes from the environment. */
export const positiveIntVar = (fallback: number) =>
  z.coerce
    .number({ error: 'expected a positive whole number' })
    .int('expected a positive whole number')
    .positive('expected a positive whole number')
    .default(fallback);

/** A non-negative whole number from the environment. */
export const nonNegativeIntVar = (fallback: number) =>
  z.coerce
    .number({ error: 'expected a whole number >= 0' })
    .int('expected a whole number >= 0')
    .min(0, 'expected a whole number >= 0')
    .default(fallback);

/** `true/false/1/0/yes/no` from the environment; unset stays `undefined` unless a fallback is given. */
export function booleanVar(): z.ZodType<boolean | undefined, string | undefined>;
export function booleanVar(fallback: boolean): z.ZodType<boolean, string | undefined>;
export function booleanVar(fallback?: boolean): z.ZodType<boolean | undefined, string | undefined> {
  return z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));
}

/**
 * The variables every service reads. An unset NODE_ENV means production: development mode (stack
 * traces and internal messages sent to callers, pretty logs) must be asked for explicitly.
 */
export const serviceEnvShape = {
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  HOST: z.string().min(1).default('0.0.0.0'),
  METRICS_HOST: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable logs; honoured in development only, where it is the default. */
  LOG_PRETTY: booleanVar(),
  /** Largest request body, in bytes. */
  MAX_BODY_BYTES: positiveIntVar(1_048_576),
  /** Most procedure calls in one HTTP batch. Clients set the same `maxItems`. */
  MAX_BATCH_SIZE: positiveIntVar(20),
  /** Largest total size of request headers, in bytes. */
  MAX_HEADER_BYTES: positiveIntVar(16_384),
  /** Idle keep-alive timeout; must exceed the gateway's upstream keep-alive (Caddy: 60 s here). */
  KEEP_ALIVE_TIMEOUT_MS: positiveIntVar(65_000),
  /** How long readiness fails before the listener closes, so the gateway stops sending first. */
  DRAIN_DELAY_MS: nonNegativeIntVar(2_500),
  /** After the drain delay, how long in-flight requests may take before connections are cut. */
  SHUTDOWN_TIMEOUT_MS: positiveIntVar(10_000),
  /** The budget of a request that carries no `x-deadline-ms`, in ms. */
  DEFAULT_DEADLINE_MS: positiveIntVar(10_000),
  /** Keys accepted from calling services: `notes=key1,key2;activity=key3` (two keys while one rotates). */
  TRUSTED_SERVICE_KEYS: z
    .string()
    .optional()
    .transform((spec, ctx) => {
      if (spec === undefined || spec.trim() === '') return undefined;
      try {
        return parseTrustedServiceKeys(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * The services that may call this one (those whose mesh.json `calls` list it), comma-separated:
   * any other service's credential is refused with 403. Unset, every trusted caller may call.
   */
  ALLOWED_CALLERS: z
    .string()
    .optional()
    .transform((list) =>
      list === undefined
        ? undefined
        : new Set(
            list
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          ),
    ),
  /** Where spans go (OTLP/HTTP, e.g. `http://jaeger:4318`); unset, the tracing SDK is not started. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  /** Points each caller (user, else IP) may spend per window, shared by all instances (needs REDIS_URL). */
  RATE_LIMIT_POINTS: positiveIntVar(600),
  RATE_LIMIT_WINDOW_SECONDS: positiveIntVar(60),
  /** While Redis is out: `open` (per-instance memory limit) or `closed` (503). */
  RATE_LIMIT_MODE: z.enum(['open', 'closed']).default('open'),
  /** Instances of this service: the in-memory fallback allows RATE_LIMIT_POINTS / INSTANCE_COUNT. */
  INSTANCE_COUNT: positiveIntVar(1),
  /** Peers whose `X-Forwarded-For` is believed (the gateway), comma-separated addresses. */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    ),
  /** This service's own key, sent on its calls to other services. */
  SERVICE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,256}$/, 'expected 16-256 characters of A-Z a-z 0-9 _ -')
    .optional(),
} as const;

/** Whether logs are pretty-printed: only in development, where that is the default. */
export function prettyLogs(env: Pick<ServiceEnv, 'NODE_ENV' | 'LOG_PRETTY'>): boolean {
  return env.NODE_ENV === 'development' && env.LOG_PRETTY !== false;
}

/** The parsed common service variables. */
export type ServiceEnv = z.output<z.ZodObject<typeof serviceEnvShape>>;
