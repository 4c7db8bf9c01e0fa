// `npm run gen`: rewrites every file that comes from mesh.json. `npm run gen -- --check` writes
// nothing and exits 1 naming the files that are out of date.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.js';
import { readMeshList } from './mesh-list.js';

const root = process.env.MESH_ROOT ?? fileURLToPath(new URL('../../../../', import.meta.url));
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [path, content] of generate(root, readMeshList(root))) {
  const file = join(root, path);
  if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
  stale.push(path);
  if (!check) writeFileSync(file, content);
}
if (check && stale.length) {
  process.stderr.write(`out of date (run \`npm run gen\`): ${stale.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write(
  stale.length ? `${check ? 'stale' : 'wrote'}: ${stale.join(', ')}\n` : 'every generated file is up to date\n',
);
