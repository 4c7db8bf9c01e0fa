export type { MeshRuntime, RequestContext } from './context.js';
export { implement, type Handler, type HandlerOptions, type Handlers } from './implement.js';
export { t } from './mesh.js';
