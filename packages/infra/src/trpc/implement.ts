export { implement, type Handler, type HandlerOptions, type Handlers } from '../pipeline/index.js';
