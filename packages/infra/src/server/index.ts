export { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
export { checkDependencies, type DependencyCheck, type Readiness, type ReadinessReport } from './readiness.js';
export {
  TRPC_PREFIX,
  createService,
  sendJson,
  type CreateServiceOptions,
  type Service,
  type ServiceAddress,
  type ShutdownResult,
} from './service.js';
export { createTrpcHandler, type TrpcHandler, type TrpcHandlerOptions } from './trpc-handler.js';
export { INTERNAL_HEADERS } from './internal-headers.js';
