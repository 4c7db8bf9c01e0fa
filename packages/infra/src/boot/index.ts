export { bootService, type BootedService } from './boot-service.js';
