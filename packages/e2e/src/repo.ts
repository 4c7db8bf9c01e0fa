import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMeshList as readCheckedMeshList, type MeshList } from '@switchyard/mesh/mesh-list';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CADDYFILE = join(REPO, 'Caddyfile');

/** The one list of the mesh (mesh.json), read and checked as the mesh tooling reads it. */
export async function readMeshList(): Promise<MeshList> {
  return readCheckedMeshList(REPO);
}

export type { MeshList };
