import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMeshList, readMeshList } from './mesh-list.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

const mesh = readMeshList(REPO);
const withService = (change: Record<string, unknown>) => ({ ...mesh, services: [{ ...mesh.services[0], ...change }] });

describe('mesh.json', () => {
  it('fills in what a service leaves out', () => {
    const [s] = parseMeshList({ ...mesh, services: [{ name: 'billing', instances: 1, port: 4020, metricsPort: 9420 }] }).services;
    expect(s).toEqual({
      name: 'billing',
      instances: 1,
      port: 4020,
      metricsPort: 9420,
      db: false,
      calls: [],
      secrets: [],
      watchesMesh: false,
    });
  });

  it.each([
    [withService({ name: 'Billing' }), /^mesh\.json: services\.0\.name: a service name must match/],
    [withService({ instances: 0 }), /^mesh\.json: services\.0\.instances: /],
    [withService({ instances: '2' }), /^mesh\.json: services\.0\.instances: /],
    [withService({ port: 70_000 }), /^mesh\.json: services\.0\.port: /],
    [withService({ calls: 'auth' }), /^mesh\.json: services\.0\.calls: /],
    [withService({ watchMesh: true }), /^mesh\.json: services\.0: .*watchMesh/],
    [withService({ secrets: ['api-key'] }), /^mesh\.json: services\.0\.secrets\.0: not an environment variable name/],
    [{ ...mesh, gateway: undefined }, /^mesh\.json: gateway: /],
    [{ ...mesh, services: [mesh.services[0], mesh.services[0]] }, /^mesh\.json: auth is listed twice$/],
    [withService({ calls: ['auth'] }), /^mesh\.json: auth lists itself among its calls$/],
  ])('refuses %#, naming the field', (raw, message) => {
    expect(() => parseMeshList(raw)).toThrow(message);
  });
});
