/**
 * The engine's bypasses by name, each of which can be switched off so that the library does its
 * job again: `SWITCHYARD_ENGINE_OFF=lineWriter,quickQuery` in a process's environment. It is read
 * once, when the engine first loads (a service's start), so the choice costs nothing per request;
 * bench/http.ts runs one build with a bypass off beside the same build with it on, which is how a
 * bypass shows what it earns (docs/performance.md, "Bypasses kept"). An unknown name fails at
 * start-up, naming the variable.
 */
export const ENGINE_BYPASSES = ['fastAdapter', 'lineWriter', 'plainJsonText', 'quickQuery', 'isoTimeNow', 'leanMetrics'] as const;

export type EngineBypass = (typeof ENGINE_BYPASSES)[number];

/** The names in a `SWITCHYARD_ENGINE_OFF` value; throws on a name that is not a bypass. */
export function parseEngineOff(value: string | undefined): ReadonlySet<EngineBypass> {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(ENGINE_BYPASSES as readonly string[]).includes(name)) {
      throw new Error(`SWITCHYARD_ENGINE_OFF: unknown bypass ${name} (known: ${ENGINE_BYPASSES.join(', ')})`);
    }
  }
  return new Set(names as EngineBypass[]);
}

const OFF = parseEngineOff(process.env.SWITCHYARD_ENGINE_OFF);

/** Whether `name` runs (true unless SWITCHYARD_ENGINE_OFF names it). */
export function bypassOn(name: EngineBypass): boolean {
  return !OFF.has(name);
}
