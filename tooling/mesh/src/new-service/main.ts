// `npm run new:service -- <name> [--instances N] [--db] [--calls auth,notes]`: a new service of the
// mesh. Writes its contract and apps/<name> (env, router, store, server, main, a test, a first
// migration with --db), adds it to mesh.json, and runs `npm run gen` for everything that follows.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMeshList } from '../gen/mesh-list.js';
import { envSource, packageJson, tsconfig, tsconfigBuild } from './app-config.js';
import { mainSource, serverSource } from './app-code.js';
import { migrationSource, routerSource, storeSource } from './app-data.js';
import { contractSource } from './contract-template.js';
import { parseNewService } from './spec.js';
import { testSource } from './test-template.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
let spec;
try {
  spec = parseNewService(process.argv.slice(2), readMeshList(root), root);
} catch (err) {
  process.stderr.write(`new:service: ${(err as Error).message}\n`);
  process.exit(1);
}
const app = `apps/${spec.name}`;
const files: Record<string, string> = {
  [`packages/api-contracts/src/${spec.name}.ts`]: contractSource(spec),
  [`${app}/package.json`]: packageJson(spec),
  [`${app}/tsconfig.json`]: tsconfig,
  [`${app}/tsconfig.build.json`]: tsconfigBuild,
  [`${app}/src/env.ts`]: envSource(spec),
  [`${app}/src/router.ts`]: routerSource(spec),
  [`${app}/src/store.ts`]: storeSource(spec),
  [`${app}/src/server.ts`]: serverSource(spec),
  [`${app}/src/main.ts`]: mainSource(spec),
  [`${app}/src/${spec.name}.test.ts`]: testSource(spec),
  ...(spec.db ? { [`${app}/migrations/${Date.now()}_create-${spec.name}.sql`]: migrationSource(spec) } : {}),
};
for (const [path, content] of Object.entries(files)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { flag: 'wx' });
}

// mesh.json keeps its own order and formatting; the service goes last.
const meshFile = join(root, 'mesh.json');
const mesh = JSON.parse(readFileSync(meshFile, 'utf8')) as { services: unknown[] };
const { name, instances, port, metricsPort, db, calls } = spec;
mesh.services.push({ name, instances, port, metricsPort, db, calls });
writeFileSync(meshFile, `${JSON.stringify(mesh, null, 2)}\n`);

const steps = [
  ['npx', 'prettier', '--log-level', 'warn', '--write', 'mesh.json', ...Object.keys(files).filter((f) => /\.(ts|json)$/.test(f))],
  [process.execPath, '--import', 'tsx', 'tooling/mesh/src/gen/main.ts'],
];
for (const [command, ...args] of steps) {
  const result = spawnSync(command!, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
process.stdout.write(
  `new:service: ${name} on port ${port} (metrics ${metricsPort}), ${instances} instance(s)${db ? ', its own database' : ''}` +
    `${calls.length ? `, calls ${calls.join(', ')}` : ''}.\nNext: npm install (links the workspace), npm run dev -- ${name}\n`,
);
