// mesh.json, read and checked: the one list the generated files and the dev runner come from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** A service of the mesh as mesh.json describes it. */
export interface MeshService {
  name: string;
  instances: number;
  /** Instance i (from 1) listens on port + i - 1 and metricsPort + i - 1. */
  port: number;
  metricsPort: number;
  /** Whether it has its own PostgreSQL database (and role). */
  db: boolean;
  /** The services it may call with its service credential; each of them refuses every other caller. */
  calls: string[];
  /** Secrets it reads from the environment, beyond its database password and service key. */
  secrets: string[];
  /** Whether it reads every instance of the mesh (MESH_INSTANCES), as a status view does. */
  watchesMesh: boolean;
}

export interface MeshList {
  gateway: { port: number; metricsPort: number };
  web: { root: string };
  services: MeshService[];
}

/** One running copy of a service: its host in docker-compose and its ports. */
export interface Instance {
  service: MeshService;
  host: string;
  port: number;
  metricsPort: number;
}

/** A service's name: a lower-case letter, then up to 31 lower-case letters or digits. */
export const SERVICE_NAME = /^[a-z][a-z0-9]{0,31}$/;

const port = z.int().min(1).max(65_535);
const name = z.string().regex(SERVICE_NAME, `a service name must match ${SERVICE_NAME}`);
// A service's keys are checked strictly, so a misspelt one (`watchMesh`) fails instead of being dropped.
const serviceSchema = z.strictObject({
  name,
  instances: z.int().min(1).max(64),
  port,
  metricsPort: port,
  db: z.boolean().default(false),
  calls: z.array(name).default([]),
  secrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'not an environment variable name')).default([]),
  watchesMesh: z.boolean().default(false),
});
const meshSchema = z.object({
  gateway: z.object({ port, metricsPort: port }),
  web: z.object({ root: z.string().min(1) }),
  services: z.array(serviceSchema).min(1),
});

/** Checks a parsed mesh.json and fills in the optional fields; throws naming what is wrong. */
export function parseMeshList(raw: unknown): MeshList {
  const parsed = meshSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`mesh.json: ${issue.path.join('.')}: ${issue.message}`);
  }
  const { services } = parsed.data;
  const names = new Set<string>();
  for (const s of services) {
    if (names.has(s.name)) throw new Error(`mesh.json: ${s.name} is listed twice`);
    names.add(s.name);
  }
  for (const s of services) {
    for (const callee of s.calls) {
      if (!names.has(callee)) throw new Error(`mesh.json: ${s.name} calls ${callee}, which is not a service of the mesh`);
      if (callee === s.name) throw new Error(`mesh.json: ${s.name} lists itself among its calls`);
    }
  }
  return parsed.data;
}

export function readMeshList(root: string): MeshList {
  return parseMeshList(JSON.parse(readFileSync(join(root, 'mesh.json'), 'utf8')));
}

export function instancesOf(service: MeshService): Instance[] {
  return Array.from({ length: service.instances }, (_, i) => ({
    service,
    host: service.instances > 1 ? `${service.name}-${i + 1}` : service.name,
    port: service.port + i,
    metricsPort: service.metricsPort + i,
  }));
}

export const allInstances = (mesh: MeshList) => mesh.services.flatMap(instancesOf);

/** The services allowed to call `name`: those that list it among their calls. */
export const callersOf = (mesh: MeshList, name: string) => mesh.services.filter((s) => s.calls.includes(name)).map((s) => s.name);

/** `notes` → `NOTES`: the prefix of a service's environment variables. */
export const envName = (name: string) => name.toUpperCase();

/** `notes` → `notesContract`: the contract's export in @switchyard/api-contracts. */
export const contractName = (name: string) => `${name}Contract`;

/** Services read access tokens against auth's JWKS, so every service but auth is told where auth is. */
export const needsAuthUrl = (service: MeshService) => service.name !== 'auth';

/** The services `service` reaches, in mesh.json's order: those it calls, and auth for the keys of access tokens. */
export function targetsOf(mesh: MeshList, service: MeshService): MeshService[] {
  const names = new Set(service.calls);
  if (needsAuthUrl(service)) names.add('auth');
  return mesh.services.filter((m) => names.has(m.name));
}
