export { exitOnSignals, type Stoppable } from './signals.js';
