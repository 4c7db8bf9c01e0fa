import { describe, expect, it } from 'vitest';
import { ENGINE_BYPASSES, bypassOn, parseEngineOff } from './switches.js';

describe('SWITCHYARD_ENGINE_OFF', () => {
  it('names bypasses, separated by commas, spaces and empty entries ignored', () => {
    expect([...parseEngineOff(undefined)]).toEqual([]);
    expect([...parseEngineOff('')]).toEqual([]);
    expect([...parseEngineOff(` ${ENGINE_BYPASSES[0]}, ,${ENGINE_BYPASSES[1]}`)]).toEqual([
      ENGINE_BYPASSES[0],
      ENGINE_BYPASSES[1],
    ]);
  });

  it('fails on a name that is not a bypass, naming the variable', () => {
    expect(() => parseEngineOff('noSuchBypass')).toThrow(/SWITCHYARD_ENGINE_OFF: unknown bypass noSuchBypass/);
  });

  it('leaves every bypass on when the variable is unset', () => {
    expect(process.env.SWITCHYARD_ENGINE_OFF).toBeUndefined();
    for (const name of ENGINE_BYPASSES) expect(bypassOn(name)).toBe(true);
  });
});
