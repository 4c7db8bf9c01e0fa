import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { Cancellable, CallSink } from '../policies/call-attempt.js';
import { itemOutcome, responseMeta } from './batch-response.js';
import { headerList } from './header-list.js';
import { Pending, type Flight, type Group } from './pending-call.js';
import type { BatchHeaders, OutboundCall, TransportOptions } from './transport-options.js';

/** Procedure paths a URL carries as they are (no escaping needed). */
const PLAIN_PATHS = /^[\w.~,-]*$/;

/**
 * The mesh client's HTTP transport: tRPC's batch wire format (`/trpc/a,b?batch=1`, superjson,
 * GET for queries, POST for mutations) over node:http with a keep-alive agent, without Fetch
 * objects, web streams or an AbortController per call. Calls sent for the same group in the same
 * turn of the event loop share one HTTP request, as httpBatchLink batches them; calls of
 * different groups never share one (the caller decides what a group is: calls whose batch-level
 * headers may be shared). Errors are `TRPCClientError`s as httpBatchLink gives them: the server's error shape in
 * `data`, `meta.response` with the status and headers, or the socket error as `cause`.
 */
export class HttpTransport<Extra = unknown> {
  private readonly base: string;
  /** The service's scheme, host and port. */
  private readonly origin: string;
  /** The path of `/trpc/` at the service. */
  private readonly basePath: string;
  /**
   * Where requests go, as http.request options: the URL is parsed once here, not on every
   * request (a URL string makes http.request parse it and merge it into the options).
   */
  private readonly endpoint: { protocol: string; hostname: string; port?: number };
  /** The Host header, and the Authorization header of credentials in the URL (sent unless the call's headers have one). */
  private readonly host: string;
  private readonly basicAuth: string | undefined;
  private readonly request: typeof httpRequest;
  private readonly agent: HttpAgent;
  private readonly maxUrlLength: number;
  private groups = new Map<object, Group<Extra>>();
  private scheduled = false;

  constructor(private readonly options: TransportOptions<Extra>) {
    const url = new URL(options.url);
    this.basePath = `${url.pathname.replace(/\/$/, '')}/trpc/`;
    this.origin = url.origin;
    this.base = `${url.origin}${this.basePath}`;
    const { protocol, hostname, port, auth } = urlToHttpOptions(url);
    this.endpoint = { protocol: protocol!, hostname: hostname!, ...(port ? { port: Number(port) } : {}) };
    // What node's http.request adds from a URL (`host` with the port unless it is the default,
    // `auth` as Basic credentials): headers go to it as a list, which it takes as they are.
    this.host = url.host;
    this.basicAuth = auth ? `Basic ${Buffer.from(auth).toString('base64')}` : undefined;
    const https = url.protocol === 'https:';
    this.request = https ? (httpsRequest as unknown as typeof httpRequest) : httpRequest;
    // Keep-alive; Node's agent also retires a socket before the server's `Keep-Alive: timeout`.
    this.agent = https
      ? new HttpsAgent({ keepAlive: true, scheduling: 'lifo' })
      : new HttpAgent({ keepAlive: true, scheduling: 'lifo' });
    this.maxUrlLength = options.maxUrlLength ?? 8_000;
  }

  /**
   * Sends `call` in the next batch of `group` (calls of one group and type made in the same turn
   * of the event loop go in one request); `headers` makes that request's headers.
   */
  send(group: object, call: OutboundCall<Extra>, headers: BatchHeaders<Extra>, cancellation?: Cancellable): Promise<unknown> {
    return new Promise((resolve, reject) => this.sendTo(group, call, headers, { resolve, reject }, cancellation));
  }

  /** {@link send}, the outcome going to `sink` instead of a promise. */
  sendTo(
    group: object,
    call: OutboundCall<Extra>,
    headers: BatchHeaders<Extra>,
    sink: CallSink,
    cancellation?: Cancellable,
  ): void {
    const pending = new Pending(this, call, sink);
    let entry = this.groups.get(group);
    if (!entry) {
      entry = { headers, query: [], mutation: [] };
      this.groups.set(group, entry);
    }
    entry[call.type].push(pending);
    cancellation?.onCancel(pending);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  /** @internal Settles a call once; a failed call's request ends when no call in it waits any more. */
  settle(pending: Pending<Extra>, data: unknown, error?: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    const { sink, flight } = pending;
    // A settled call lets go of what it carried (its input, and through `extra` the context of the
    // request it was made for) and of its sink and HTTP request: whatever still points at it (its
    // batch, the response's listeners) then keeps none of that alive, and a request's context
    // dies young with the request.
    pending.call = pending.sink = pending.flight = pending.wire = undefined;
    if (error === undefined) {
      sink!.resolve(data);
      return;
    }
    sink!.reject(error);
    if (flight) {
      queueMicrotask(() => {
        if (flight.batch.every((p) => p.settled) && !flight.req.destroyed) flight.req.destroy();
      });
    }
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    for (const group of groups.values()) {
      for (const list of [group.query, group.mutation]) {
        const live = list.filter((p) => !p.settled);
        for (let i = 0; i < live.length;) {
          const batch = this.takeBatch(live, i);
          i += batch.length;
          this.dispatch(batch, group.headers);
        }
      }
    }
  }

  /**
   * The next batch from `from`: at most maxBatchSize calls, with the URL (queries) and the calls'
   * headers within the limit.
   */
  private takeBatch(list: Array<Pending<Extra>>, from: number): Array<Pending<Extra>> {
    const end = Math.min(list.length, from + this.options.maxBatchSize);
    // A lone call has nothing to split; mutations carry their inputs in the body.
    if (end - from === 1) return list.slice(from, end);
    const query = list[from]!.call!.type === 'query';
    const headerBytes = this.options.headerBytes;
    if (!query && !headerBytes) return list.slice(from, end);
    let length = this.base.length + 20;
    let i = from;
    for (; i < end; i++) {
      const pending = list[i]!;
      const call = pending.call!;
      let cost = headerBytes ? headerBytes(call) : 0;
      if (query) {
        pending.wire = superjson.serialize(call.input);
        // Close enough for the limit: the encoded input plus its path and index.
        cost += call.path.length + 8 + encodeURIComponent(JSON.stringify(pending.wire)).length;
      }
      if (i > from && length + cost > this.maxUrlLength) break;
      length += cost;
    }
    return list.slice(from, i);
  }

  private dispatch(batch: Array<Pending<Extra>>, headersOf: BatchHeaders<Extra>): void {
    const calls = batch.map((p) => p.call!);
    const type = calls[0]!.type;
    const inputs: Record<number, unknown> = {};
    // A loop, not a closure: a closure over `calls` would put it in the context the response's
    // listeners keep, with every call's input and context.
    for (let i = 0; i < batch.length; i++) inputs[i] = batch[i]!.wire ?? superjson.serialize(calls[i]!.input);
    const encoded = JSON.stringify(inputs);
    const paths = calls.map((c) => c.path).join(',');
    const path =
      type === 'query'
        ? `${this.basePath}${paths}?batch=1&input=${encodeURIComponent(encoded)}`
        : `${this.basePath}${paths}?batch=1`;
    let headers: Record<string, string>;
    try {
      headers = headersOf(calls);
    } catch (error) {
      for (const p of batch) this.settle(p, undefined, TRPCClientError.from(error as Error));
      return;
    }
    if (type === 'mutation') {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(encoded));
    }
    const fail = (error: Error) => {
      const clientError = TRPCClientError.from(error);
      for (const p of batch) this.settle(p, undefined, clientError);
    };
    const method = type === 'query' ? 'GET' : 'POST';
    const list = headerList(headers, this.host, this.basicAuth);
    let req: ClientRequest;
    try {
      req = PLAIN_PATHS.test(paths)
        ? this.request({ ...this.endpoint, path, method, headers: list, agent: this.agent })
        : // Procedure names with other characters: as a URL, which escapes them as fetch would.
          this.request(`${this.origin}${path}`, { method, headers: list, agent: this.agent });
    } catch (error) {
      // What http.request refuses (e.g. a header value with a line break): the calls fail.
      fail(error as Error);
      return;
    }
    const flight: Flight<Extra> = { req, batch };
    for (const p of batch) p.flight = flight;
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        const response = responseMeta(res);
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (cause) {
          const error = new TRPCClientError(`Unexpected response from the service (HTTP ${response.status}, not JSON)`, {
            meta: { response },
            cause: cause as Error,
          });
          for (const p of batch) this.settle(p, undefined, error);
          return;
        }
        const meta = { response, responseJSON: json };
        const items = Array.isArray(json) ? json : batch.map(() => json);
        batch.forEach((p, i) => {
          const outcome = itemOutcome(items[i], meta);
          if ('error' in outcome) this.settle(p, undefined, outcome.error);
          else this.settle(p, outcome.data);
        });
      });
    });
    req.end(type === 'mutation' ? encoded : undefined);
  }
}
