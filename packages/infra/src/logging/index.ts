export { REDACT_PATHS, createLogger, type CreateLoggerOptions, type Logger } from './logger.js';
export { holdLines, releaseLines, writeInfoLine } from './lines.js';
export { LineDestination, type LineDestinationOptions } from './destination.js';
