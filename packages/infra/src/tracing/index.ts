export { extractTraceContext, injectTraceContext, traceFields, tracer } from './tracing.js';
