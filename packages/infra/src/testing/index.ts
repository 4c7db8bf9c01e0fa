export { createTestDatabase, type TestDatabase } from './test-database.js';
export { captureLogs, type LogCapture } from './log-capture.js';
export { freePort, startTestRedis, type TestRedis, type TestRedisOptions } from './redis-server.js';
export { sourceCommand, spawnService, startServiceMain, type SpawnServiceOptions, type SpawnedService } from './spawn-service.js';
export { startTestTokenIssuer, type TestTokenIssuer } from './token-issuer.js';
export { pollUntil, type PollOptions } from './poll.js';
export { startTestService, type TestService, type TestServiceOptions } from './test-service.js';
export { gatewayErrorBody, rateLimitedBody } from './error-bodies.js';
