// A new service's wiring, in the same files as notes: server (the service, not listening) and main
// (configuration, database, the clients of the services it calls).
import { envName } from '../gen/mesh-list.js';
import type { NewService } from './spec.js';

/** The service clients of the services it calls, by name: \`{ auth: ServiceClient<...> }\`. */
const clientsType = (s: NewService) => `{ ${s.calls.map((c) => `${c}?: ServiceClient<typeof meshContracts.${c}>`).join('; ')} }`;

export function serverSource(s: NewService): string {
  const fromAuth = s.calls.includes('auth');
  return `${s.db ? "import type pg from 'pg';\n" : ''}${s.calls.length ? "import type { meshContracts } from '@switchyard/api-contracts';\n" : ''}import type { VerifiedAccess } from '@switchyard/infra/auth';
${s.calls.length ? `import { ${fromAuth ? 'isUnavailable, ' : ''}type ServiceClient } from '@switchyard/infra/client';\n` : ''}import type { Logger } from '@switchyard/infra/logging';
import type { ServiceMetrics } from '@switchyard/infra/metrics';
import { createService, type Service } from '@switchyard/infra/server';
import type { ${s.Name}Config } from './env.js';
import { create${s.Name}Router${fromAuth ? ', type EmailLookup' : ''} } from './router.js';
import { create${s.Name}Store } from './store.js';

/** What the ${s.name} service needs from outside. */
export interface ${s.Name}Deps {
  config: ${s.Name}Config;
${s.db ? '  pool: pg.Pool;\n' : ''}  logger: Logger;
  /** Verifies access tokens (auth's JWKS); without it every procedure answers 401. */
  verifyAccessToken?: (token: string) => Promise<VerifiedAccess>;
${s.calls.length ? `  /** The services mesh.json lets ${s.name} call, each with ${s.name}'s own service key. */\n  clients?: ${clientsType(s)};\n` : ''}  metrics?: ServiceMetrics;
}
${
  fromAuth
    ? `
/** Emails through auth's getUser; \`null\` while auth cannot answer. */
function emailLookup(auth: NonNullable<${s.Name}Deps['clients']>['auth']): EmailLookup | undefined {
  if (!auth) return undefined;
  return async (ctx, id) => {
    try {
      return (await auth.with(ctx).getUser.query({ id })).email;
    } catch (error) {
      if (isUnavailable(error)) return null;
      throw error;
    }
  };
}
`
    : ''
}
/** The ${s.name} service, wired but not listening: tests start it on port 0. */
export function create${s.Name}Service(deps: ${s.Name}Deps): Service {
  const { config, logger, metrics } = deps;
  return createService({
    name: '${s.name}',
    router: create${s.Name}Router({ store: create${s.Name}Store(${s.db ? 'deps.pool' : ''})${fromAuth ? ', email: emailLookup(deps.clients?.auth)' : ''} }),
    config,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(deps.verifyAccessToken ? { verifyAccessToken: deps.verifyAccessToken } : {}),
${s.db ? "    dependencies: { postgres: () => deps.pool.query('SELECT 1') },\n" : ''}${
    s.calls.length
      ? '    breakers: () => Object.fromEntries(Object.entries(deps.clients ?? {}).map(([name, client]) => [name, client.breakerState()])),\n'
      : ''
  }  });
}
`;
}

export function mainSource(s: NewService): string {
  const clients = s.calls.map(
    (c) => `      ${c}: createServiceClient({
        target: '${c}',
        contract: meshContracts.${c},
        url: config.${envName(c)}_URL,
        caller: { service: '${s.name}', key: config.SERVICE_KEY },
        registry: metrics.registry,
        logger,
      }),`,
  );
  const boot = s.db
    ? `const { config, logger, pool, adopt } = await bootService({
  service: '${s.name}',
  readEnv,
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
  poolMax: (config) => config.DB_POOL_MAX,
});`
    : `const config = configOrExit('${s.name}', readEnv);
const logger = createLogger({ service: '${s.name}', level: config.LOG_LEVEL });`;
  return `${s.db ? "import { fileURLToPath } from 'node:url';\n" : ''}${s.calls.length ? "import { meshContracts } from '@switchyard/api-contracts';\n" : ''}import { createUserVerification } from '@switchyard/infra/auth';
${s.db ? "import { bootService } from '@switchyard/infra/boot';\n" : "import { configOrExit } from '@switchyard/infra/config';\n"}${s.calls.length ? "import { createServiceClient } from '@switchyard/infra/client';\n" : ''}${s.db ? '' : "import { createLogger } from '@switchyard/infra/logging';\n"}import { createMetrics } from '@switchyard/infra/metrics';
import { exitOnSignals } from '@switchyard/infra/shutdown';
import { readEnv } from './env.js';
import { create${s.Name}Service } from './server.js';

${boot}
const metrics = createMetrics({ service: '${s.name}', procedures: ['hello', 'record'] });
const verifyAccessToken = await createUserVerification({ authUrl: config.AUTH_URL, logger });
${
  s.calls.length
    ? `if (!config.SERVICE_KEY) logger.warn('SERVICE_KEY is not set: ${s.name} calls none of ${s.calls.join(', ')}');
const clients = config.SERVICE_KEY
  ? {
${clients.join('\n')}
    }
  : {};
`
    : ''
}const service = create${s.Name}Service({ config, ${s.db ? 'pool, ' : ''}logger, metrics, verifyAccessToken${s.calls.length ? ', clients' : ''} });
${s.db ? 'adopt(service);\n' : ''}exitOnSignals(service, logger);
await service.start();
`;
}
