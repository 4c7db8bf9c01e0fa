export { createTestDatabase, type TestDatabase } from './test-database.js';
export { captureLogs, type LogCapture } from './log-capture.js';
export { spawnService, type SpawnServiceOptions, type SpawnedService } from './spawn-service.js';
