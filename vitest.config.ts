import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the `@switchyard/source` condition).
const SOURCE = '@switchyard/source';

export default defineConfig({
  resolve: { conditions: [SOURCE, ...defaultClientConditions] },
  // Not 'module': externalised packages are loaded by Node, which cannot run every package's
  // bundler-only ESM build (@opentelemetry/api 1.9's has extensionless imports).
  ssr: { resolve: { conditions: [SOURCE, ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['{apps,packages,tooling}/*/src/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
