export { createTestDatabase, type TestDatabase } from './test-database.js';
export { captureLogs, type LogCapture } from './log-capture.js';
