import { availableParallelism } from 'node:os';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the `@switchyard/source` condition).
const SOURCE = '@switchyard/source';
// The benchmark harness's quick run (every bench/ script, some under valgrind): last, alone, and
// timed as a group of its own, since its time is the harness's, not the product's.
const BENCH = ['packages/e2e/src/bench.test.ts'];
// Whole stacks under load, one file at a time. The rate limiter's file is here for its Redis
// outages under load: no request may take 300 ms, a bound about the limiter (its Redis wait is
// 200 ms) that other files sharing the 2 cores can break.
const STACK = [
  'packages/e2e/src/**/*.test.ts',
  'tooling/mesh/src/**/*.test.ts',
  'packages/infra/src/rate-limit/rate-limit.test.ts',
  'scripts/*.test.ts',
];
// Files that start Node processes (a service's main.ts, a paused service, a log burst, a draining
// server): after the unit files, one at a time, so that no two of them share the cores, nor one
// of them a unit file's load.
const PROCESS = [
  'apps/activity/src/consumer.test.ts',
  'apps/notes/src/main.test.ts',
  'packages/infra/src/client/deadline.test.ts',
  'packages/infra/src/logging/destination.test.ts',
  'packages/infra/src/server/shutdown.test.ts',
];

export default defineConfig({
  resolve: { conditions: [SOURCE, ...defaultClientConditions] },
  // Not 'module': externalised packages are loaded by Node, which cannot run every package's
  // bundler-only ESM build (@opentelemetry/api 1.9's has extensionless imports).
  ssr: { resolve: { conditions: [SOURCE, ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    pool: 'forks',
    // Unit files run at least two at a time (vitest's default is one fewer than the cores); every
    // other group, one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 90_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{apps,packages,tooling}/*/src/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...STACK, ...PROCESS, ...BENCH],
        },
      },
      {
        extends: true,
        test: { name: 'process', include: PROCESS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      // Whole stacks under load (failover counts, the dev runner): after the rest, one file at a
      // time, so that no other test competes with them for the 2 cores.
      {
        extends: true,
        test: { name: 'stack', include: STACK, exclude: BENCH, fileParallelism: false, sequence: { groupOrder: 2 } },
      },
      { extends: true, test: { name: 'bench', include: BENCH, fileParallelism: false, sequence: { groupOrder: 3 } } },
    ],
  },
});
