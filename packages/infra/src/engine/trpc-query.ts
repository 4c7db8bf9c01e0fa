import { bypassOn } from './switches.js';

/** The query parameters the fast path reads, as URLSearchParams reads them (its `get`: the first). */
export interface Query {
  batch: string | null;
  input: string | null;
  connectionParams: boolean;
}

export const NO_QUERY: Query = Object.freeze({ batch: null, input: null, connectionParams: false });

/**
 * The query's `batch`, `input` and `connectionParams`. URLSearchParams parses a query in
 * JavaScript, character by character; here the names are compared as they are and a value decoded by
 * decodeURIComponent; a query this cannot read exactly as URLSearchParams does (an encoded name,
 * a malformed escape, a fragment) goes to URLSearchParams.
 */
export const queryOf: (query: string) => Query = bypassOn('quickQuery')
  ? (query) => quickQuery(query) ?? fullQuery(query)
  : fullQuery;

function fullQuery(query: string): Query {
  const params = new URLSearchParams(query);
  return { batch: params.get('batch'), input: params.get('input'), connectionParams: params.has('connectionParams') };
}

function quickQuery(query: string): Query | undefined {
  if (query.includes('#')) return undefined;
  const found: Query = { batch: null, input: null, connectionParams: false };
  for (let start = 0; start < query.length;) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      let eq = query.indexOf('=', start);
      if (eq === -1 || eq > end) eq = end;
      const name = query.slice(start, eq);
      if (name.includes('%') || name.includes('+')) return undefined;
      if ((name === 'input' && found.input === null) || (name === 'batch' && found.batch === null)) {
        const value = formValue(eq === end ? '' : query.slice(eq + 1, end));
        if (value === undefined) return undefined;
        found[name] = value;
      } else if (name === 'connectionParams') {
        found.connectionParams = true;
      }
    }
    start = end + 1;
  }
  return found;
}

/** A form-encoded value (`+` is a space), or undefined when an escape is malformed (URLSearchParams keeps it). */
function formValue(raw: string): string | undefined {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}
