export {
  ConfigError,
  booleanVar,
  loadConfig,
  nonNegativeIntVar,
  portVar,
  positiveIntVar,
  serviceEnvShape,
  type ServiceEnv,
} from './config.js';
