import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATED_FILES, generate } from './generate.js';
import { parseMeshList, readMeshList, type MeshList } from './mesh-list.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

/** The generated files of the repository, copied to a scratch directory that `generate` may write. */
async function copyOfGenerated(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-gen-'));
  scratch.push(dir);
  for (const path of GENERATED_FILES) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), await readFile(join(REPO, path), 'utf8'));
  }
  return dir;
}

async function writeAll(dir: string, files: Map<string, string>) {
  for (const [path, content] of files) await writeFile(join(dir, path), content);
}

describe('npm run gen', () => {
  it('has written every generated file from the current mesh.json (else: run `npm run gen`)', async () => {
    const stale: string[] = [];
    for (const [path, content] of generate(REPO, readMeshList(REPO))) {
      if ((await readFile(join(REPO, path), 'utf8')) !== content) stale.push(path);
    }
    expect(stale, 'out of date: run `npm run gen` and commit the result').toEqual([]);
  });

  it('leaves no reference to a service once it is removed from mesh.json', async () => {
    const mesh = readMeshList(REPO);
    const withBilling: MeshList = parseMeshList({
      ...mesh,
      services: [
        ...mesh.services,
        {
          name: 'billing',
          instances: 2,
          port: 4031,
          metricsPort: 9431,
          db: true,
          calls: ['auth'],
          secrets: ['BILLING_API_SECRET'],
        },
      ],
    });
    const dir = await copyOfGenerated();
    const added = generate(dir, withBilling);
    await writeAll(dir, added);
    const mentioning = [...added].filter(([, content]) => /billing/i.test(content)).map(([path]) => path);
    expect(mentioning.sort()).toEqual([...GENERATED_FILES].sort());

    const removed = generate(dir, mesh);
    for (const [path, content] of removed) {
      expect(content, path).not.toMatch(/billing/i);
      expect(content, path).toBe(await readFile(join(REPO, path), 'utf8'));
    }
  });

  it('refuses a mesh.json whose service calls a service it does not list', () => {
    const mesh = readMeshList(REPO);
    const broken = { ...mesh, services: [...mesh.services, { ...mesh.services[0]!, name: 'billing', calls: ['payments'] }] };
    expect(() => parseMeshList(broken)).toThrow(/billing calls payments, which is not a service of the mesh/);
  });
});
