import type { FreezeCall } from './freeze-load.js';

const longest = (calls: FreezeCall[]) => Math.round(Math.max(0, ...calls.map((c) => c.end - c.start)));

/** Failed calls by code, as JSON, for the printed figures. */
const byCode = (calls: FreezeCall[]) =>
  JSON.stringify(
    calls.filter((c) => c.appCode).reduce<Record<string, number>>((m, c) => ((m[c.appCode!] = (m[c.appCode!] ?? 0) + 1), m), {}),
  );

/**
 * What a freeze round's calls show, checked against the notes that exist afterwards (`titles`):
 * the typed clients' queries and mutations, the fetch-only calls, and every create's truth.
 */
export function freezeFigures(calls: FreezeCall[], titles: ReadonlySet<string>) {
  const typed = calls.filter((c) => c.caller !== 'raw');
  const queries = typed.filter((c) => c.kind === 'query');
  const mutations = typed.filter((c) => c.kind === 'mutation');
  const raw = calls.filter((c) => c.caller === 'raw');
  const creates = calls.filter((c) => c.kind === 'mutation');
  const exists = (c: FreezeCall) => titles.has(c.title!);
  // A failure tells the truth when its note does not exist, or when it says the outcome is unknown.
  const untrue = creates.filter((c) => c.appCode && c.appCode !== 'OUTCOME_UNKNOWN' && exists(c));
  const unknown = creates.filter((c) => c.appCode === 'OUTCOME_UNKNOWN');
  const figures = {
    longestQueryMs: longest(queries),
    failedQueries: queries.filter((c) => c.appCode).length,
    longestMutationMs: longest(mutations),
    longestRawMs: longest(raw),
    untrue: untrue.map((c) => `${c.caller} ${c.appCode}: ${c.message}`),
    /** Creates reported done whose note is missing. */
    lost: creates.filter((c) => !c.appCode && !exists(c)).length,
    /** Creates marked retryable whose note exists: a caller trusting the flag makes a duplicate. */
    retryableButDone: creates.filter((c) => c.retryable === true && exists(c)).length,
  };
  const report = [
    `typed clients: ${queries.length} queries, longest ${figures.longestQueryMs} ms, failed ${byCode(queries)}; ` +
      `${mutations.length} creates, longest ${figures.longestMutationMs} ms, failed ${byCode(mutations)}`,
    `fetch alone: ${raw.length} calls, longest query ${longest(raw.filter((c) => c.kind === 'query'))} ms, ` +
      `longest create ${longest(raw.filter((c) => c.kind === 'mutation'))} ms, failed ${byCode(raw)}`,
    `read back: ${creates.length} creates, ${unknown.length} OUTCOME_UNKNOWN (${unknown.filter(exists).length} of them exist), ` +
      `${untrue.length} reported failed but exist, ${figures.lost} reported done but missing`,
  ].join('\n');
  return { ...figures, report };
}
