export { RedisHealth, RedisUnhealthyError, redisHealth, type RedisHealthOptions } from './health.js';
export { RedisTimeoutError, lagAwareTimeout } from './lag-aware-timeout.js';
export { createRedisPlatform, type RedisPlatform } from './platform.js';
export { createRedisClient, quitRedis, type CreateRedisClientOptions, type Redis, type RedisRole } from './redis-client.js';
