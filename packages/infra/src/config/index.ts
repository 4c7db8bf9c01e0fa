export {
  ConfigError,
  booleanVar,
  loadConfig,
  nonNegativeIntVar,
  portVar,
  positiveIntVar,
  prettyLogs,
  serviceEnvShape,
  type ServiceEnv,
} from './config.js';
export type { TrustedServiceKeys } from '../identity/service-identity.js';
export { urlListVar } from './url-list.js';
export { configOrExit, databaseEnvShape, requireDatabaseInProduction } from './service-config.js';
