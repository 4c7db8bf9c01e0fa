// A temporary copy of the repository for tests that change it: the files git knows of (tracked,
// and new ones not ignored) as they are now, and a node_modules whose entries are the original's
// except the workspace packages, which point into the copy (as `npm install` would link them).
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const SCOPE = '@switchyard';

export async function copyRepository(repo: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-copy-'));
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    encoding: 'utf8',
  });
  for (const path of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(repo, path))) continue; // deleted in the working tree
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await cp(join(repo, path), join(dir, path), { verbatimSymlinks: true });
  }
  await mkdir(join(dir, 'node_modules', SCOPE), { recursive: true });
  for (const entry of await readdir(join(repo, 'node_modules'))) {
    if (entry !== SCOPE) await symlink(join(repo, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  await linkWorkspaces(dir, repo);
  return dir;
}

/** Links every workspace package of the copy into its node_modules/@switchyard (what npm install does). */
export async function linkWorkspaces(dir: string, repo: string): Promise<void> {
  for (const group of ['apps', 'packages', 'tooling', 'examples']) {
    for (const name of await readdir(join(dir, group))) {
      const pkgFile = join(dir, group, name, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkgName = (JSON.parse(await readFile(pkgFile, 'utf8')) as { name: string }).name;
      // A workspace's own node_modules (a dependency npm could not hoist) is the original's.
      const own = join(repo, group, name, 'node_modules');
      if (existsSync(own) && !existsSync(join(dir, group, name, 'node_modules')))
        await symlink(own, join(dir, group, name, 'node_modules'));
      const link = join(dir, 'node_modules', pkgName);
      if (!pkgName.startsWith(`${SCOPE}/`) || existsSync(link)) continue;
      await symlink(relative(dirname(link), join(dir, group, name)), link);
    }
  }
}
