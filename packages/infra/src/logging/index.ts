export { REDACT_PATHS, createLogger, type CreateLoggerOptions, type Logger } from './logger.js';
export { holdLines, releaseLines, writeInfoLine } from '../engine/line-writer.js';
export { LineDestination, type LineDestinationOptions } from './destination.js';
