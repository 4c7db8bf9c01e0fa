import type { IncomingMessage } from 'node:http';
import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';
import { PIPELINES, type Pipeline } from '../pipeline/implement.js';
import type { TrpcHandlerOptions } from '../server/trpc-handler.js';
import { procedureType, routerProcedureRecord } from './router-internals.js';
import { NO_QUERY, queryOf } from './trpc-query.js';

/** A procedure, and its pipeline when the router was built by implement(). */
export interface ProcedureEntry {
  procedure: AnyTRPCProcedure;
  call: Pipeline | undefined;
}

/** A request the fast path answers: what it calls, decided before reading any body. */
export interface FastPlan {
  isBatch: boolean;
  paths: string[];
  /** Each path's procedure and pipeline. */
  entries: ProcedureEntry[];
  type: 'query' | 'mutation';
  /** The raw `input` query parameter (GET). */
  queryInput: string | null;
}

/** Whether a `content-type` is JSON (`application/json`, any parameters). */
export function jsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

function wantsStream(req: IncomingMessage): boolean {
  if (req.headers['trpc-accept'] !== undefined) return true;
  const accept = req.headers.accept;
  return accept !== undefined && accept.includes('application/jsonl');
}

/** A batch's paths (`a,b,c`), or undefined past `max` of them, stopping at the bound. */
function splitPaths(path: string, max: number): string[] | undefined {
  const paths: string[] = [];
  let start = 0;
  for (;;) {
    const comma = path.indexOf(',', start);
    if (paths.length === max) return undefined;
    if (comma === -1) {
      paths.push(start === 0 ? path : path.slice(start));
      return paths;
    }
    paths.push(path.slice(start, comma));
    start = comma + 1;
  }
}

/**
 * Each procedure and its pipeline by path, in a Map (a router's procedure record is a
 * dictionary-mode object, slow to look up per call). A path not in it is looked up in the record,
 * where a lazy router may have added it since. The last path found is kept too: a batch often
 * calls one procedure many times.
 */
function procedureLookup(router: AnyTRPCRouter): (path: string) => ProcedureEntry | undefined {
  const procedures = routerProcedureRecord(router);
  // Routers built by implement() carry each procedure's pipeline, which the adapter runs itself.
  const direct = (router as unknown as Record<symbol, Record<string, Pipeline> | undefined>)[PIPELINES];
  const known = new Map<string, ProcedureEntry>();
  const entryOf = (path: string): ProcedureEntry | undefined => {
    const procedure = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
    if (!procedure) return undefined;
    const entry = { procedure, call: direct && Object.hasOwn(direct, path) ? direct[path] : undefined };
    known.set(path, entry);
    return entry;
  };
  for (const path of Object.keys(procedures)) entryOf(path);
  let lastPath = '';
  let lastEntry: ProcedureEntry | undefined;
  return (path) => {
    if (path === lastPath && lastEntry !== undefined) return lastEntry;
    const entry = known.get(path) ?? entryOf(path);
    if (entry !== undefined) {
      lastPath = path;
      lastEntry = entry;
    }
    return entry;
  };
}

/**
 * The fast path's choice: a plan for the requests it answers exactly as tRPC's adapter would, and
 * undefined for the rest (HEAD and other methods, streaming `trpc-accept`, other content types,
 * `connectionParams`, percent-encoded paths, unknown or mismatched procedures, subscriptions,
 * oversized batches, unread bodies without a declared length within the limit).
 */
export function createPlanner(options: TrpcHandlerOptions): (req: IncomingMessage, path: string) => FastPlan | undefined {
  const entryAt = procedureLookup(options.router);
  return (req, path) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'POST') return undefined;
    if (wantsStream(req)) return undefined;
    const contentType = req.headers['content-type'];
    if (method === 'POST') {
      if (!jsonContentType(contentType)) return undefined;
      // A body not read ahead (see readRequestBody): only a declared one within the limit.
      const length = req.headers['content-length'];
      const unread = typeof (req as { body?: unknown }).body !== 'string';
      if (unread && (length === undefined || Number(length) > options.maxBodyBytes)) return undefined;
    } else if (contentType !== undefined && !jsonContentType(contentType)) {
      return undefined;
    }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const params = q === -1 ? NO_QUERY : queryOf(url.slice(q + 1));
    if (params.connectionParams) return undefined;
    if (path.includes('%')) return undefined; // percent-encoded paths: the stock decoder
    const isBatch = params.batch === '1';
    const paths = isBatch ? splitPaths(path, options.maxBatchSize) : [path];
    if (paths === undefined) return undefined;
    const entries: ProcedureEntry[] = [];
    const type = method === 'GET' ? 'query' : 'mutation';
    for (let i = 0; i < paths.length; i++) {
      const entry = entryAt(paths[i]!);
      if (!entry || procedureType(entry.procedure) !== type) return undefined;
      entries.push(entry);
    }
    return { isBatch, paths, entries, type, queryInput: params.input };
  };
}
