// `--ablate=all` (or `--ablate=lineWriter,quickQuery`) of bench/http.ts: each engine bypass
// switched off (SWITCHYARD_ENGINE_OFF) in a server process of the same build, beside a process of
// its own with every bypass on, so that the two have the same history (warm-up, heap growth).
// Every round measures each pair on-off-off-on or off-on-on-off (alternating), which cancels
// a steady drift of the machine, and the report gives on/off ratios per shape: what the bypass
// earns. It stays when it earns at least 2% of req/s or of CPU per request in one shape
// (docs/performance.md, "Bypasses kept").
import { ENGINE_BYPASSES } from '../packages/infra/src/engine/switches.js';
import { ABLATION_SHAPES, serverOf, shapeScenario, type Scenario } from './http-scenarios.js';
import { spread, wrk, type Running, type Sample } from './measure.js';

/** One bypass switched off in one shape. */
export interface Ablation {
  shape: Scenario;
  off: string;
}

/** The ablations `--ablate=<names|all>` asks for, each in every shape. */
export function ablationsOf(names: string | undefined): Ablation[] {
  if (names === undefined) return [];
  const offs = names === 'all' ? [...ENGINE_BYPASSES] : names.split(',');
  for (const off of offs) {
    if (!(ENGINE_BYPASSES as readonly string[]).includes(off)) throw new Error(`--ablate: unknown bypass ${off}`);
  }
  return offs.flatMap((off) => ABLATION_SHAPES.map((name) => ({ shape: shapeScenario(name), off })));
}

/** The server with the bypass off, and its own twin with everything on. */
const offKey = (a: Ablation) => serverOf(a.shape, a.off);
const onKey = (a: Ablation) => serverOf(a.shape, `${a.off}~twin`);

/** The server processes the ablations need: key, shape and bypass off (none for the twin). */
export const ablationServers = (ablations: Ablation[]) =>
  ablations.flatMap((a) => [
    { key: offKey(a), scenario: a.shape, off: a.off as string | undefined },
    { key: onKey(a), scenario: a.shape, off: undefined },
  ]);

type Pairs = { cpu: number[]; perSecond: number[]; non2xx: number; errors: number };

/** Per ablation, round by round: CPU per request and req/s of the bypass on over off. */
export class AblationPairs {
  private readonly pairs = new Map<Ablation, Pairs>();

  constructor(private readonly ablations: Ablation[]) {
    for (const a of ablations) this.pairs.set(a, { cpu: [], perSecond: [], non2xx: 0, errors: 0 });
  }

  /** Measures every ablation's pair twice, in ABBA order, starting with the bypass on in even rounds. */
  async measure(servers: Map<string, Running>, seconds: number, round: number): Promise<void> {
    for (const a of this.ablations) {
      const run = (key: string) => wrk(servers.get(key)!, a.shape.path, seconds, a.shape.auth ?? false);
      const [first, second] = round % 2 === 0 ? [onKey(a), offKey(a)] : [offKey(a), onKey(a)];
      const samples = new Map<string, Sample[]>([
        [first, []],
        [second, []],
      ]);
      for (const key of [first, second, second, first]) samples.get(key)!.push(await run(key));
      const mean = (key: string, of: (s: Sample) => number) => samples.get(key)!.reduce((sum, s) => sum + of(s), 0) / 2;
      const pair = this.pairs.get(a)!;
      pair.cpu.push(mean(onKey(a), (s) => s.cpuMicrosPerRequest) / mean(offKey(a), (s) => s.cpuMicrosPerRequest));
      pair.perSecond.push(mean(onKey(a), (s) => s.perSecond) / mean(offKey(a), (s) => s.perSecond));
      for (const s of [...samples.values()].flat()) {
        pair.non2xx += s.non2xx;
        pair.errors += s.socketErrors;
      }
    }
  }

  /** Prints the table and returns it as JSON. */
  report(): Record<string, unknown> {
    const show = (xs: number[]) => {
      const s = spread(xs);
      return `${s.median.toFixed(3)} (${s.min.toFixed(3)}-${s.max.toFixed(3)})`.padEnd(24);
    };
    console.log('\nbypasses: on / off in one run, median (min-max) over rounds; CPU < 0.98 or req/s > 1.02 earns its place');
    console.log(`${'bypass'.padEnd(14)} ${'shape'.padEnd(13)} ${'CPU per request'.padEnd(24)} ${'req/s'.padEnd(24)} earns`);
    const result: Record<string, Record<string, unknown>> = {};
    for (const a of this.ablations) {
      const pair = this.pairs.get(a)!;
      const cpu = spread(pair.cpu);
      const perSecond = spread(pair.perSecond);
      const earns = cpu.median <= 0.98 || perSecond.median >= 1.02;
      const flags = pair.non2xx || pair.errors ? `  !! ${pair.non2xx} non-2xx, ${pair.errors} socket errors` : '';
      console.log(
        `${a.off.padEnd(14)} ${a.shape.name.padEnd(13)} ${show(pair.cpu)} ${show(pair.perSecond)} ${earns ? 'yes' : 'no'}${flags}`,
      );
      (result[a.off] ??= {})[a.shape.name] = { cpuOnOverOff: cpu, perSecondOnOverOff: perSecond, earns };
    }
    return result;
  }
}
