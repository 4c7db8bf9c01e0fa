export { REDACT_PATHS, createLogger, type CreateLoggerOptions, type Logger } from './logger.js';
export { writeInfoLine } from './lines.js';
