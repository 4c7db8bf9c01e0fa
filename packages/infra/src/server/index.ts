export { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
export { checkDependencies, type DependencyCheck, type Readiness, type ReadinessReport } from './readiness.js';
export { TRPC_PREFIX, sendJson, type Route } from './listener.js';
export { createService, type CreateServiceOptions, type Service, type ServiceAddress, type ShutdownResult } from './service.js';
export { createTrpcHandler, type TrpcHandler, type TrpcHandlerOptions } from './trpc-handler.js';
export { INTERNAL_HEADERS } from '../wire/index.js';
