import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { readEnv } from './env.js';
import { createMeshStatus, parseMeshInstances } from './mesh-status.js';

const servers: Server[] = [];
afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A real instance answering /ready as given (or never, for `hang`). */
async function instance(ready: number | 'hang', breakers: Record<string, string> = {}) {
  let probes = 0;
  const server = createServer((req, res) => {
    probes++;
    if (ready === 'hang') return;
    res.writeHead(ready, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ready === 200 ? 'ready' : 'draining', dependencies: {}, breakers }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, probes: () => probes };
}

describe('the mesh status view', () => {
  it('reads readiness and breakers from every instance, numbering them; a hanging one is not ready once its probe times out', async () => {
    const [a, b, c] = await Promise.all([instance(200, { auth: 'open' }), instance(503), instance('hang')]);
    const status = createMeshStatus([{ service: 'notes', urls: [a.url, b.url, c.url] }]);
    const t0 = performance.now();
    const result = await status();
    // The hanging instance costs its probe's 500 ms timeout. A probe without a timeout would hold
    // the view until the test's own timeout; 3 s leaves room for a loaded 2-core machine.
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(result.services).toEqual([
      {
        name: 'notes',
        instances: [
          { instance: 1, ready: true, breakers: { auth: 'open' } },
          { instance: 2, ready: false, breakers: {} },
          { instance: 3, ready: false, breakers: {} },
        ],
      },
    ]);
    expect(JSON.stringify(result)).not.toContain('127.0.0.1'); // no internal address reaches a browser
    expect(c.probes()).toBe(1);
  });

  it('many viewers within a second cost one probe per instance; a view older than a second probes again', async () => {
    // Only the clock is fake: the probes are real HTTP requests with real timeouts.
    vi.useFakeTimers({ toFake: ['Date'] });
    const a = await instance(200);
    const status = createMeshStatus([{ service: 'notes', urls: [a.url] }]);
    await Promise.all(Array.from({ length: 20 }, () => status()));
    expect(a.probes()).toBe(1);
    vi.setSystemTime(Date.now() + 1_000);
    await Promise.all(Array.from({ length: 20 }, () => status()));
    expect(a.probes()).toBe(1);
    vi.setSystemTime(Date.now() + 1);
    const later = await status();
    expect(a.probes()).toBe(2);
    expect(later.services[0]!.instances[0]!.ready).toBe(true);
  });

  it('MESH_INSTANCES: a bad value stops the service with a message naming the variable', () => {
    expect(parseMeshInstances('auth=http://a:4002;notes=http://n1:4011,http://n2:4012')).toEqual([
      { service: 'auth', urls: ['http://a:4002'] },
      { service: 'notes', urls: ['http://n1:4011', 'http://n2:4012'] },
    ]);
    expect(() => readEnv({ REDIS_URL: 'redis://x', MESH_INSTANCES: 'notes:http://n1:4011' })).toThrow(/MESH_INSTANCES/);
    expect(() => readEnv({ REDIS_URL: 'redis://x', MESH_INSTANCES: 'notes=ftp://n1' })).toThrow(/MESH_INSTANCES.*http\(s\)/);
  });
});
