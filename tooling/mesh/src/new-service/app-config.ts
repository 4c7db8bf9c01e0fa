// A new service's package files and its settings reader (env.ts), as notes has them.
import { envName } from '../gen/mesh-list.js';
import type { NewService } from './spec.js';

export function packageJson(s: NewService): string {
  const pkg = {
    name: `@switchyard/${s.name}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { build: 'tsc -p tsconfig.build.json', typecheck: 'tsc --noEmit', start: 'node dist/main.js', lint: 'eslint src' },
    dependencies: {
      '@switchyard/api-contracts': '^0.1.0',
      '@switchyard/infra': '^0.1.0',
      ...(s.db ? { pg: '^8.23.1' } : {}),
      zod: '^4.6.7',
    },
    devDependencies: { '@switchyard/tsconfig': '^0.1.0', '@trpc/client': '^11.25.2', superjson: '^2.2.6' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

export const tsconfig = `{
  "extends": "@switchyard/tsconfig/base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "noEmit": true },
  "include": ["src"]
}
`;

export const tsconfigBuild = `{
  "extends": "@switchyard/tsconfig/build.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"],
  "exclude": ["src/**/*.type-test.ts", "src/**/*.test.ts", "src/**/*.test-d.ts", "src/**/fixtures/**"]
}
`;

export function envSource(s: NewService): string {
  const urls = Object.entries(s.calleePorts).map(
    ([callee, port]) =>
      `    /** The ${callee} service${callee === 'auth' ? ': its JWKS verifies access tokens' : ''}. */\n` +
      `    ${envName(callee)}_URL: urlListVar('http://127.0.0.1:${port}'),`,
  );
  const dbImports = s.db ? ['databaseEnvShape', 'positiveIntVar', 'requireDatabaseInProduction'] : [];
  const urlImports = urls.length ? ['urlListVar'] : [];
  return `import { z } from 'zod';
import { ${['loadConfig', 'portVar', ...dbImports, 'serviceEnvShape', ...urlImports].sort().join(', ')} } from '@switchyard/infra/config';

const ${s.Name}Env = z
  .object({
    ...serviceEnvShape,
    PORT: portVar(${s.port}),
    METRICS_PORT: portVar(${s.metricsPort}),
${s.db ? `    ...databaseEnvShape('.data/${s.name}'),\n    DB_POOL_MAX: positiveIntVar(10),\n` : ''}${urls.join('\n')}
  })${s.db ? '\n  .superRefine((env, ctx) => {\n    requireDatabaseInProduction(env, ctx);\n  })' : ''};

/** The ${s.name} service's settings. */
export type ${s.Name}Config = z.output<typeof ${s.Name}Env>;

/** Reads and validates the environment: the only reader of \`process.env\` in this service. */
export function readEnv(env: Record<string, string | undefined> = process.env): ${s.Name}Config {
  return loadConfig(${s.Name}Env, env);
}
`;
}
