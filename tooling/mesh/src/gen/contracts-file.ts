// packages/api-contracts/src/services.generated.ts: every service's contract by the name the
// gateway routes, and their router types, for @switchyard/client and the gateway's callers.
import { FILE_NOTICE } from './regions.js';
import { contractName, type MeshList } from './mesh-list.js';

export const CONTRACTS_FILE = 'packages/api-contracts/src/services.generated.ts';

export function contractsFile(mesh: MeshList): string {
  const names = mesh.services.map((s) => s.name);
  return [
    FILE_NOTICE,
    "import type { RouterOf } from './contract.js';",
    ...names.map((n) => `import { ${contractName(n)} } from './${n}.js';`),
    '',
    '/** Every service of the mesh: its contract, by the name the gateway routes (`/api/<name>/trpc`). */',
    'export const meshContracts = {',
    ...names.map((n) => `  ${n}: ${contractName(n)},`),
    '} as const;',
    '',
    "/** Every service's router type, by the name the gateway routes. */",
    'export type MeshRouters = { [K in keyof typeof meshContracts]: RouterOf<(typeof meshContracts)[K]> };',
    '',
  ].join('\n');
}
