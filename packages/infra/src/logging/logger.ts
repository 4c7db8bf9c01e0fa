import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { LineDestination } from './destination.js';
import { MESH_LOGGER } from '../engine/line-writer.js';

export type { Logger } from 'pino';

/**
 * Paths pino censors in every log line. Secrets must never reach a log: credentials in headers,
 * passwords and tokens in inputs, at any of the depths we log them.
 */
export const REDACT_PATHS: readonly string[] = [
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-service-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.*.password',
  '*.*.token',
  '*.*.accessToken',
  '*.*.refreshToken',
];

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** The service name, in every line as `service`. */
  service: string;
  /** @default 'info' */
  level?: LoggerOptions['level'];
  /** Human-readable output (pino-pretty); for development only. @default false */
  pretty?: boolean;
  /** Where lines go. @default standard output, through a {@link LineDestination} */
  destination?: DestinationStream;
}

/**
 * A pino JSON logger with the mesh's redaction rules and base fields.
 * @example const log = createLogger({ service: 'notes', level: 'info' });
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const base: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const logger = options.destination
    ? pino(base, options.destination)
    : options.pretty
      ? pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true } } })
      : pino(base, new LineDestination(process.stdout.fd ?? 1));
  // The line format writeInfoLine reproduces: level label, ISO time, bindings, fields, msg.
  Object.defineProperty(logger, MESH_LOGGER, { value: true });
  return logger;
}
