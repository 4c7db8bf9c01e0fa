import { describe, expect, it } from 'vitest';
import { composeRegions } from './compose.js';
import { parseMeshList } from './mesh-list.js';

const mesh = parseMeshList({
  gateway: { port: 8080, metricsPort: 2020 },
  web: { root: 'apps/web/dist' },
  services: [
    { name: 'auth', instances: 2, port: 4002, metricsPort: 9402, calls: [] },
    { name: 'billing', instances: 1, port: 4031, metricsPort: 9431, calls: [] },
    { name: 'notes', instances: 2, port: 4011, metricsPort: 9411, calls: ['auth', 'billing'] },
  ],
});

describe('composeRegions', () => {
  it("gives each caller instance every instance of a callee by its compose host, and a single instance's one URL", () => {
    const services = composeRegions(mesh).services!.map((line) => line.trim());
    const urlLines = (name: string) => services.filter((line) => line.startsWith(`${name}_URL:`));
    // Both notes instances, and billing (which reaches auth for its JWKS).
    expect(urlLines('AUTH')).toEqual(Array(3).fill("AUTH_URL: 'http://auth-1:4002,http://auth-2:4003'"));
    expect(urlLines('BILLING')).toEqual(Array(2).fill("BILLING_URL: 'http://billing:4031'"));
  });

  it('gives each instance its key, its callers and their keys as placeholders compose requires', () => {
    const services = composeRegions(mesh).services!.map((line) => line.trim());
    const key = (name: string) => `\${${name}_SERVICE_KEY:?set ${name}_SERVICE_KEY in .env}`;
    expect(services.filter((line) => line.startsWith('SERVICE_KEY:'))).toEqual(Array(2).fill(`SERVICE_KEY: ${key('NOTES')}`));
    expect(services.filter((line) => line.startsWith('TRUSTED_SERVICE_KEYS:'))).toEqual(
      Array(3).fill(`TRUSTED_SERVICE_KEYS: notes=${key('NOTES')}`),
    );
    expect(services.filter((line) => line.startsWith('ALLOWED_CALLERS:'))).toEqual([
      ...Array(3).fill("ALLOWED_CALLERS: 'notes'"),
      ...Array(2).fill("ALLOWED_CALLERS: ''"),
    ]);
  });
});
