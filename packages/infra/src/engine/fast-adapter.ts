import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  TRPCError,
  getErrorShape,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
} from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';
import superjson from 'superjson';
import { requestIdScope } from '../trpc/request-scope.js';
import type { RequestContext } from '../trpc/context.js';
import type { CallResult } from '../pipeline/observe.js';
import { holdLines, jsonString, releaseLines } from './line-writer.js';
import { PIPELINES, type Pipeline } from '../pipeline/implement.js';
import { procedureType, routerConfig, routerProcedureRecord } from './router-internals.js';
import type { TrpcHandlerOptions } from '../server/trpc-handler.js';

/**
 * The fast path of the tRPC HTTP adapter: JSON queries (GET) and mutations (POST), batched or not,
 * answered from node:http without building a Fetch `Request`, `Response`, `Headers`, web streams
 * or per-call `AbortController`s, which is where the stock adapter spends its time. It follows
 * tRPC 11's `resolveResponse` step by step (same error shapes, messages, status codes, `vary`
 * header, onError calls, lazy input parsing after the procedure's middlewares) and takes only the
 * requests it can answer exactly so: `select` returns false for anything else (HEAD, streaming
 * `trpc-accept`, other content types, `connectionParams`, unknown or mismatched procedures,
 * subscriptions, oversized batches, chunked bodies), which the stock adapter then answers.
 * Differential tests (fast-trpc.test.ts) send one corpus to both.
 */
export interface FastTrpc {
  /** Whether the fast path answers this request; decided before reading anything. */
  select(req: IncomingMessage, path: string): FastPlan | undefined;
  handle(req: IncomingMessage, res: ServerResponse, plan: FastPlan): Promise<void>;
}

/** A procedure, and its pipeline when the router was built by implement(). */
interface ProcedureEntry {
  procedure: AnyTRPCProcedure;
  call: Pipeline | undefined;
}

export interface FastPlan {
  isBatch: boolean;
  paths: string[];
  /** Each path's procedure and pipeline. */
  entries: ProcedureEntry[];
  type: 'query' | 'mutation';
  /** The raw `input` query parameter (GET). */
  queryInput: string | null;
}

const VARY = 'trpc-accept, accept';
const EMPTY = Object.freeze({}) as Record<number, unknown>;

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

/** `isDataStream` of tRPC: a result with promises or async iterables cannot go in a JSON body. */
function isDataStream(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Symbol.asyncIterator in value) return true;
  for (const v of Object.values(value)) {
    if (v instanceof Promise || (v !== null && typeof v === 'object' && Symbol.asyncIterator in v)) return true;
  }
  return false;
}

/**
 * The JSON text of `value` when superjson would serialize it as `{ json: value }` with no
 * annotations, else undefined: only strings, booleans, null, finite numbers other than -0, and
 * arrays and plain objects of those, each object met once (a repeated reference is annotated, a
 * cycle is cut). Anything else (Date, Map, BigInt, undefined, class instances) goes through
 * superjson itself. One walk checks and writes (JSON.stringify would walk again, in C++, looking
 * up `toJSON` on every object); the text is what JSON.stringify writes (own enumerable string
 * keys in its order, the same escapes through {@link jsonString}, numbers as `String(n)`).
 */
function plainJsonText(value: unknown, seen: SeenObjects, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) && !(value === 0 && 1 / value < 0) ? `${value}` : undefined;
    case 'object': {
      if (value === null) return 'null';
      if (depth > 32 || !seen.add(value)) return undefined;
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) {
          const item = plainJsonText(value[i], seen, depth + 1);
          if (item === undefined) return undefined;
          text += i === 0 ? item : `,${item}`;
        }
        return `${text}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const keys = Object.keys(value);
      let text = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        // superjson refuses these keys: let it answer as it does.
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') return undefined;
        const item = plainJsonText((value as Record<string, unknown>)[key], seen, depth + 1);
        if (item === undefined) return undefined;
        text += `${i === 0 ? '' : ','}${jsonString(key)}:${item}`;
      }
      return `${text}}`;
    }
    default:
      return undefined;
  }
}

/**
 * The objects {@link plainJsonText} has met: the first few in an array, scanned (most outputs have a
 * handful of objects, and a Set hashes each one: V8 gives each object an identity hash first), the
 * rest in a Set.
 */
class SeenObjects {
  private static readonly SCANNED = 16;
  private readonly few: Array<object | undefined> = new Array<object | undefined>(SeenObjects.SCANNED).fill(undefined);
  private count = 0;
  private readonly many = new Set<object>();

  /** Adds `value`; false if it was already there. */
  add(value: object): boolean {
    const few = this.few;
    for (let i = 0; i < this.count; i++) if (few[i] === value) return false;
    if (this.many.size > 0 && this.many.has(value)) return false;
    if (this.count < SeenObjects.SCANNED) few[this.count++] = value;
    else this.many.add(value);
    return true;
  }

  /**
   * Forgets every object (none is kept alive past the check). Not `few.length = 0`: a store to an
   * array's length is a generic store from optimized code.
   */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.few[i] = undefined;
    this.count = 0;
    if (this.many.size > 0) this.many.clear();
  }
}

const SEEN = new SeenObjects();
/** {@link plainJsonText} with one reused set (the walk is synchronous). */
function plainText(value: unknown): string | undefined {
  try {
    return plainJsonText(value, SEEN, 0);
  } finally {
    SEEN.clear();
  }
}

/** The query parameters the fast path reads, as URLSearchParams reads them (its `get`: the first). */
interface Query {
  batch: string | null;
  input: string | null;
  connectionParams: boolean;
}

const NO_QUERY: Query = Object.freeze({ batch: null, input: null, connectionParams: false });

/**
 * The query's `batch`, `input` and `connectionParams`. URLSearchParams parses a query in
 * JavaScript, character by character; here the names are compared as they are and a value decoded by
 * decodeURIComponent; a query this cannot read exactly as URLSearchParams does (an encoded name,
 * a malformed escape, a fragment) goes to URLSearchParams.
 */
function queryOf(query: string): Query {
  return quickQuery(query) ?? fullQuery(query);
}

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

/**
 * A batch's paths (`a,b,c`), or undefined past `max` of them, stopping at the bound.
 */
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

function readBody(req: IncomingMessage): Promise<string> {
  const read = (req as { body?: unknown }).body;
  if (typeof read === 'string') return Promise.resolve(read);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** An error's shape; without a context (it failed), the request id comes from the response's. */
function shapeOf(res: ServerResponse, opts: Parameters<typeof getErrorShape>[0]) {
  if (opts.ctx !== undefined) return getErrorShape(opts);
  return requestIdScope.run(res.getHeader('x-request-id') as string | undefined, () => getErrorShape(opts));
}

/** Errors from reading the inputs, as tRPC's `memo` wraps them (a BAD_REQUEST with the cause's message). */
function inputError(cause: unknown): TRPCError {
  if (cause instanceof TRPCError) return cause;
  return new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
}

export function createFastTrpc(options: TrpcHandlerOptions): FastTrpc {
  const router: AnyTRPCRouter = options.router;
  const config = routerConfig(router);
  const procedures = routerProcedureRecord(router);
  // Routers built by implement() carry each procedure's pipeline, which the adapter runs itself.
  const direct = (router as unknown as Record<symbol, Record<string, Pipeline> | undefined>)[PIPELINES];
  // Each procedure and its pipeline by path, in a Map (a router's procedure record is a
  // dictionary-mode object, slow to look up per call). A path not in it is looked up in the
  // record, where a lazy router may have added it since. The last path found is kept too: a
  // batch often calls one procedure many times.
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
  const entryAt = (path: string): ProcedureEntry | undefined => {
    if (path === lastPath && lastEntry !== undefined) return lastEntry;
    const entry = known.get(path) ?? entryOf(path);
    if (entry !== undefined) {
      lastPath = path;
      lastEntry = entry;
    }
    return entry;
  };
  // The parsed JSON is this request's own: superjson may revive it in place instead of copying it.
  const deserialize =
    config.transformer.input === superjson
      ? (value: unknown) => superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0], { inPlace: true })
      : (value: unknown) => config.transformer.input.deserialize(value);
  // A success item as transformTRPCResponse makes it, as JSON text; with superjson, plain JSON
  // data is written by plainText (superjson writes it as `{ json: data }`).
  const serializeOutput = config.transformer.output.serialize as (value: unknown) => unknown;
  const viaSuperjson = config.transformer.output === superjson;
  const successJson = (data: unknown): string => {
    const plain = viaSuperjson ? plainText(data) : undefined;
    return plain === undefined
      ? JSON.stringify({ result: { data: serializeOutput(data) } })
      : `{"result":{"data":{"json":${plain}}}}`;
  };
  // A batch's body from its calls' outcomes (`[error, data]`, all successes): with superjson,
  // each item's text joined; else one JSON.stringify.
  const batchJson = viaSuperjson
    ? (outcomes: ReadonlyArray<readonly [unknown, unknown]>): string => {
        let text = '[';
        for (let i = 0; i < outcomes.length; i++) {
          const item = successJson(outcomes[i]![1]);
          text += i === 0 ? item : `,${item}`;
        }
        return `${text}]`;
      }
    : (outcomes: ReadonlyArray<readonly [unknown, unknown]>): string =>
        JSON.stringify(outcomes.map(([, data]) => ({ result: { data: serializeOutput(data) } })));

  return {
    select(req, path) {
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
    },

    async handle(req, res, plan) {
      const { paths, type } = plan;
      // Inputs, parsed once and lazily read by each call's input parser (after its middlewares),
      // as the stock adapter does; a failure is each call's error.
      let inputs: Record<number, unknown> | undefined;
      let inputFailure: TRPCError | undefined;
      const parseInputs = (text: string | null) => {
        try {
          const raw: unknown = text ? JSON.parse(text) : undefined;
          if (raw === undefined) {
            inputs = EMPTY;
          } else if (!plan.isBatch) {
            inputs = { 0: deserialize(raw) };
          } else {
            if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
              throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
            }
            const record = raw as Record<number, unknown>;
            const acc: Record<number, unknown> = {};
            for (let i = 0; i < paths.length; i++) if (record[i] !== undefined) acc[i] = deserialize(record[i]);
            inputs = acc;
          }
        } catch (cause) {
          inputFailure = inputError(cause);
        }
      };
      let bodyText: string | null;
      try {
        bodyText = req.method === 'POST' ? await readBody(req) : plan.queryInput;
      } catch {
        // The client went away mid-body (or the socket failed): nobody is left to answer.
        res.destroy();
        return;
      }

      let ctx: RequestContext | undefined;
      let ctxError: TRPCError | undefined;
      try {
        const made = options.createContext(req, res);
        ctx = made instanceof Promise ? await made : made;
      } catch (cause) {
        ctxError = getTRPCErrorFromUnknown(cause);
      }

      type Outcome = [TRPCError, undefined] | [undefined, unknown];
      const failure = (cause: unknown, path: string): Outcome => {
        const error = getTRPCErrorFromUnknown(cause);
        options.onError({ error, path, type, ctx, req });
        return [error, undefined];
      };
      const success = (data: unknown, path: string): Outcome =>
        isDataStream(data)
          ? failure(
              new TRPCError({
                code: 'UNSUPPORTED_MEDIA_TYPE',
                message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
              }),
              path,
            )
          : [undefined, data];
      const settle = (result: CallResult, path: string): Outcome =>
        result.ok ? success(result.data, path) : failure(result.error, path);
      // A batch's access lines go to the log in one write, when its response is ready.
      const holding = ctx !== undefined && paths.length > 1;
      if (holding) holdLines(ctx!);
      // Calls answered at once (every step synchronous) need no promise: the response is written
      // in the same tick as the request was read.
      let pending = false;
      const outcomes = paths.map((path, index): Outcome | Promise<Outcome> => {
        try {
          if (ctxError) throw ctxError;
          const { procedure, call } = plan.entries[index]!;
          if (call) {
            const rawInput = () => {
              if (!inputs && !inputFailure) parseInputs(bodyText);
              if (inputFailure) throw inputFailure;
              return inputs![index];
            };
            const result = call({ ctx: ctx!, rawInput, batchIndex: index });
            if (!(result instanceof Promise)) return settle(result, path);
            pending = true;
            return result.then(
              (settled) => settle(settled, path),
              (cause: unknown) => failure(cause, path),
            );
          }
          const getRawInput = () => {
            if (!inputs && !inputFailure) parseInputs(bodyText);
            if (inputFailure) return Promise.reject(inputFailure);
            return Promise.resolve(inputs![index]);
          };
          pending = true;
          return procedure({ path, getRawInput, ctx, type, signal: ctx!.signal, batchIndex: index }).then(
            (data: unknown) => success(data, path),
            (cause: unknown) => failure(cause, path),
          );
        } catch (cause) {
          return failure(cause, path);
        }
      });
      const results = pending ? await Promise.all(outcomes) : (outcomes as Outcome[]);
      if (holding) releaseLines(ctx!);

      let status: number;
      let body: string;
      try {
        if (results.some(([error]) => error !== undefined)) {
          const errors = results.map(([error]) => error);
          const untransformed = results.map(([error, data], index) =>
            error
              ? { error: shapeOf(res, { config, ctx, error, input: inputs?.[index], path: paths[index]!, type }) }
              : { result: { data } },
          );
          status = getHTTPStatusCode(untransformed, errors);
          body = JSON.stringify(transformTRPCResponse(config, plan.isBatch ? untransformed : untransformed[0]!));
        } else {
          // Every call succeeded: 200 (getHTTPStatusCode's answer for no errors), items written directly.
          status = 200;
          body = plan.isBatch ? batchJson(results) : successJson(results[0]![1]);
        }
      } catch (cause) {
        // The output cannot be serialized (superjson refuses it): one error for the whole
        // response, as the stock adapter's catch-all answers it.
        const error = getTRPCErrorFromUnknown(cause);
        options.onError({ error, path: undefined, type, ctx, req });
        const shape = { error: shapeOf(res, { config, ctx, error, input: undefined, path: undefined, type }) };
        status = getHTTPStatusCode(shape, [error]);
        body = JSON.stringify(transformTRPCResponse(config, shape));
      }
      if (res.statusCode === 200) res.statusCode = status;
      res.setHeader('vary', VARY);
      res.setHeader('content-type', 'application/json');
      // A known length: one write, no chunked framing (the stock adapter streams its body).
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    },
  };
}
