import { BreakerStateSchema, type MeshStatus } from '@switchyard/api-contracts';

/** The instances whose status the view shows: per service, each instance's base URL. */
export type MeshInstances = ReadonlyArray<{ service: string; urls: readonly string[] }>;

/**
 * Parses `MESH_INSTANCES`: `auth=http://auth:4002;notes=http://notes-1:4011,http://notes-2:4012`.
 * Returns an error message naming the problem, or the list.
 */
export function parseMeshInstances(value: string): MeshInstances | string {
  if (value.trim() === '') return [];
  const list: Array<{ service: string; urls: string[] }> = [];
  for (const part of value.split(';').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*)=(.+)$/.exec(part);
    if (!match) return `expected <service>=<url>[,<url>...] separated by ';', got "${part}"`;
    const urls = match[2]!.split(',').map((u) => u.trim());
    for (const url of urls) if (!/^https?:\/\/[^\s/]+$/.test(url)) return `expected http(s)://host:port for ${match[1]}, got "${url}"`;
    list.push({ service: match[1]!, urls });
  }
  return list;
}

const PROBE_TIMEOUT_MS = 500;
const MAX_AGE_MS = 1_000;

/**
 * Reads every instance's `/ready` (its readiness and its breakers), at most once a second however
 * many users look, each probe bounded by 500 ms. Internal addresses never leave: instances are
 * numbered.
 */
export function createMeshStatus(instances: MeshInstances, fetchImpl: typeof fetch = fetch): () => Promise<MeshStatus> {
  let last: { at: number; status: Promise<MeshStatus> } | undefined;
  const probe = async (url: string) => {
    try {
      const res = await fetchImpl(`${url}/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      const body = (await res.json()) as { breakers?: Record<string, unknown> };
      const breakers: Record<string, 'closed' | 'open' | 'half-open' | 'isolated'> = {};
      for (const [target, state] of Object.entries(body.breakers ?? {})) {
        const parsed = BreakerStateSchema.safeParse(state);
        if (parsed.success) breakers[target] = parsed.data;
      }
      return { ready: res.status === 200, breakers };
    } catch {
      return { ready: false, breakers: {} };
    }
  };
  const check = async (): Promise<MeshStatus> => ({
    checkedAt: new Date(),
    services: await Promise.all(
      instances.map(async ({ service, urls }) => ({
        name: service,
        instances: await Promise.all(urls.map(async (url, i) => ({ instance: i + 1, ...(await probe(url)) }))),
      })),
    ),
  });
  return () => {
    if (!last || Date.now() - last.at > MAX_AGE_MS) last = { at: Date.now(), status: check() };
    return last.status;
  };
}
