// Every file `npm run gen` writes from mesh.json, computed in memory: the command writes them,
// the tests compare them with the repository's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caddyfileRegions } from './caddyfile.js';
import { composeRegions } from './compose.js';
import { CONTRACTS_FILE, contractsFile } from './contracts-file.js';
import { envExampleRegions, postgresRegions, prometheusRegions } from './deploy-files.js';
import type { MeshList } from './mesh-list.js';
import { REGIONS_NOTICE, fillRegions } from './regions.js';

/** Files with generated parts, and how to fill them. */
const REGION_FILES: Record<string, (mesh: MeshList) => Record<string, string[]>> = {
  Caddyfile: caddyfileRegions,
  'docker-compose.yml': composeRegions,
  'deploy/prometheus/prometheus.yml': prometheusRegions,
  'deploy/postgres/init-databases.sh': postgresRegions,
  '.env.example': envExampleRegions,
};

/** Every generated path, relative to the repository. */
export const GENERATED_FILES = [...Object.keys(REGION_FILES), CONTRACTS_FILE];

/** The generated files' contents for `mesh`, from the hand-kept parts of those under `root`. */
export function generate(root: string, mesh: MeshList): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, regionsOf] of Object.entries(REGION_FILES)) {
    const current = readFileSync(join(root, path), 'utf8');
    if (!current.includes(REGIONS_NOTICE)) throw new Error(`${path} does not carry the line: ${REGIONS_NOTICE}`);
    out.set(path, fillRegions(current, regionsOf(mesh)));
  }
  out.set(CONTRACTS_FILE, contractsFile(mesh));
  return out;
}
