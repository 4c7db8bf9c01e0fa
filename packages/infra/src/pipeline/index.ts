export { compose, type Next, type PipelineCall, type ProcedureInfo, type Step } from './call.js';
export { type Handler, type HandlerOptions, type Handlers } from './handler.js';
export { PIPELINES, implement, type ImplementOptions, type Pipeline } from './implement.js';
export { observedErrors, type CallResult } from './observe.js';
export { accessDenied } from './steps/access.js';
