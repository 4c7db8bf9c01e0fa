import { fileURLToPath } from 'node:url';
import { quitRedis, createRedisClient } from '@switchyard/infra/redis';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { bootService } from '@switchyard/infra/boot';
import { readEnv } from './env.js';
import { createAuthService } from './server.js';

const { config, logger, pool, adopt } = await bootService({
  service: 'auth',
  readEnv,
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
});
const subscriber = createRedisClient({ url: config.REDIS_URL, role: 'blocking', name: 'auth-subscriber', logger });
const { service } = await createAuthService({ config, pool, subscriber, logger });
adopt(service);
service.onClose('redis-subscriber', () => quitRedis(subscriber));
exitOnSignals(service, logger);
await service.start();
