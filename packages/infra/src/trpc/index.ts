export type { MeshRuntime, RequestContext } from './context.js';
export {
  implement,
  type Handler,
  type HandlerOptions,
  type Handlers,
  type ImplementOptions,
  type Step,
} from '../pipeline/index.js';
export { t } from './mesh.js';
