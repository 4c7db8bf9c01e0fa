// The tables bench/http.ts prints from its rounds: each scenario against raw node:http, S8's
// batched over unbatched page, and with `--base` this build's CPU per request over the base's.
import { median, spread } from './measure.js';
import type { Scenario } from './http-scenarios.js';

/** One scenario's figures, round by round. */
export type Row = { ratio: number[]; cpuRatio: number[]; perSecond: number[]; cpu: number[]; non2xx: number; errors: number };

export const emptyRow = (): Row => ({ ratio: [], cpuRatio: [], perSecond: [], cpu: [], non2xx: 0, errors: 0 });

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const spreadOf = (xs: number[]) => (xs.length ? spread(xs) : undefined);
const show = (r: { median: number; min: number; max: number } | undefined) =>
  (r ? `${fmt(r.median)} (${fmt(r.min)}-${fmt(r.max)})` : '-').padEnd(18);

/** What the report needs besides the rows. */
export interface ReportInput {
  scenarios: Scenario[];
  rows: Map<string, Row>;
  raw: { perSecond: number; cpuMicrosPerRequest: number; rssMb: number };
  idleRss: Record<string, number>;
  base: string | undefined;
  rounds: number;
}

/** Prints the tables; returns them as JSON. */
export function reportHttp({ scenarios, rows, raw, idleRss, base, rounds }: ReportInput): Record<string, unknown> {
  console.log(
    `${'scenario'.padEnd(72)} ${'req/s'.padStart(8)}  ${'req/s ratio'.padEnd(18)}  ${'CPU ratio'.padEnd(18)}  CPU us/req  RSS MB`,
  );
  console.log(
    `${'S1 raw node:http JSON hello'.padEnd(72)} ${fmt(raw.perSecond, 0).padStart(8)}  ${'1.00'.padEnd(18)}  ${'1.00'.padEnd(18)}  ${fmt(raw.cpuMicrosPerRequest, 1).padStart(9)}  ${fmt(raw.rssMb, 0)}`,
  );
  const result: Record<string, unknown> = { raw: { perSecond: raw.perSecond, cpuMicrosPerRequest: raw.cpuMicrosPerRequest } };
  for (const scenario of scenarios) {
    const row = rows.get(scenario.name);
    if (!row) continue;
    const ratio = spreadOf(row.ratio);
    const cpuRatio = spreadOf(row.cpuRatio);
    const perSecond = row.perSecond.length ? median(row.perSecond) : 0;
    console.log(
      `${scenario.label.padEnd(72)} ${fmt(perSecond, 0).padStart(8)}  ${show(ratio)}  ${show(cpuRatio)}  ${fmt(median(row.cpu), 1).padStart(9)}  ${fmt(idleRss[scenario.name]!, 0)}${row.non2xx || row.errors ? `  !! ${row.non2xx} non-2xx, ${row.errors} socket errors` : ''}`,
    );
    result[scenario.name] = {
      label: scenario.label.trim(),
      ratio,
      cpuRatio,
      perSecond,
      cpuMicrosPerRequest: median(row.cpu),
      rssMbAfterWarmup: idleRss[scenario.name],
      non2xx: row.non2xx,
      socketErrors: row.errors,
    };
  }
  const batched = rows.get('page-batched');
  const unbatched = rows.get('page-unbatched');
  if (batched && unbatched) {
    // Pages per second (rounds kept by the drift gate) and CPU per page (every round).
    const ratios = spreadOf(batched.perSecond.map((b, i) => b / unbatched.perSecond[i]!));
    const cpuRatios = spreadOf(batched.cpu.map((b, i) => unbatched.cpu[i]! / b));
    result.pageBatchedOverUnbatched = { ratio: ratios, cpuRatio: cpuRatios };
    console.log(`S8 batched / unbatched: pages per second ${show(ratios).trim()}, CPU per page ${show(cpuRatios).trim()}`);
  }
  if (base) {
    // CPU per request of this build over the base's, round by round: the guard is the pair, not a ratio to raw.
    console.log(`\nthis build / base (${base}), CPU per request, median (min-max) over ${rounds} rounds:`);
    const versus: Record<string, unknown> = {};
    for (const scenario of scenarios) {
      const before = rows.get(`${scenario.name}@base`);
      const after = rows.get(scenario.name);
      if (!before || !after || scenario.root) continue;
      const change = spread(after.cpu.map((cpu, i) => cpu / before.cpu[i]!));
      versus[scenario.name] = change;
      console.log(`  ${scenario.label.trim().padEnd(70)} ${show(change).trim()}`);
    }
    result.versusBase = versus;
  }
  return result;
}
