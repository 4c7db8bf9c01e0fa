// What `npm run new:service` was asked for, and the names and ports that follow from it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAME, type MeshList } from '../gen/mesh-list.js';

export interface NewService {
  name: string;
  /** `billing` → `Billing`, for type names. */
  Name: string;
  instances: number;
  db: boolean;
  calls: string[];
  port: number;
  metricsPort: number;
  /** The first port of each service it calls, for its defaults (`AUTH_URL`...). */
  calleePorts: Record<string, number>;
}

/** Services listen on ports 40x1 and up, their metrics 5400 above (notes: 4011 and 9411). */
const METRICS_OFFSET = 5400;

/**
 * Parses `<name> [--instances N] [--db] [--calls auth,notes]` against the current mesh.json and
 * the apps in `root`; throws, naming what is wrong, before anything is written.
 */
export function parseNewService(args: string[], mesh: MeshList, root: string): NewService {
  const [name, ...rest] = args;
  if (!name || name.startsWith('-'))
    throw new Error('usage: npm run new:service -- <name> [--instances N] [--db] [--calls auth,notes]');
  if (!SERVICE_NAME.test(name))
    throw new Error(
      `the service name must be a lower-case letter, then up to 31 lower-case letters or digits (got ${JSON.stringify(name)})`,
    );
  if (mesh.services.some((s) => s.name === name)) throw new Error(`${name} is already a service of mesh.json`);
  if (existsSync(join(root, 'apps', name))) throw new Error(`apps/${name} exists already`);
  let instances = 1;
  let db = false;
  let calls: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    if (flag === '--db') db = true;
    else if (flag === '--instances') instances = Number(rest[++i]);
    else if (flag === '--calls') calls = (rest[++i] ?? '').split(',').filter(Boolean);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!Number.isInteger(instances) || instances < 1 || instances > 9) throw new Error('--instances must be 1 to 9');
  const byName = new Map(mesh.services.map((s) => [s.name, s]));
  const unknown = calls.filter((c) => !byName.has(c));
  if (unknown.length) throw new Error(`--calls: not services of mesh.json: ${unknown.join(', ')}`);
  // The first block of ten above every port in use, so instances never collide.
  const highest = Math.max(...mesh.services.map((s) => s.port + s.instances - 1));
  const port = (Math.floor(highest / 10) + 1) * 10 + 1;
  const calleePorts = Object.fromEntries([...calls, 'auth'].filter((c) => byName.has(c)).map((c) => [c, byName.get(c)!.port]));
  return {
    name,
    Name: name[0]!.toUpperCase() + name.slice(1),
    instances,
    db,
    calls,
    port,
    metricsPort: port + METRICS_OFFSET,
    calleePorts,
  };
}
