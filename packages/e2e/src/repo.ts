import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CADDYFILE = join(REPO, 'Caddyfile');

/** The one list of the mesh (mesh.json). */
export interface MeshList {
  gateway: { port: number; metricsPort: number };
  web: { root: string };
  services: Array<{ name: string; instances: number; port: number; metricsPort: number }>;
}

export async function readMeshList(): Promise<MeshList> {
  return JSON.parse(await readFile(join(REPO, 'mesh.json'), 'utf8')) as MeshList;
}
