import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import type { ServiceMetrics } from '../metrics/metrics.js';
import { now } from '../policies/deadline.js';
import { CALLS_HEADER, REQUEST_ID_HEADER } from '../wire/index.js';
import { callsOf, type MeshRequest } from './mesh-request.js';
import { inboundRequestId } from './request-id.js';

/** The URL prefix of the tRPC endpoint: `/trpc/<procedure>`. */
export const TRPC_PREFIX = '/trpc/';

/** A route outside tRPC, by exact path (GET and HEAD). */
export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Sends a JSON body with `cache-control: no-store`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text);
}

/** What {@link createListener} routes to. */
export interface ListenerOptions {
  trpc: (req: IncomingMessage, res: ServerResponse, path: string) => void;
  routes: Readonly<Record<string, Route>>;
  /** The `/ready` answer: its status and body. */
  ready: () => { status: number; body: unknown };
  metrics: ServiceMetrics;
  logger: Logger;
}

/**
 * The service's request listener: gives every response its request id (the inbound
 * x-request-id when well formed; for calls from the mesh client, the first call's; else a new
 * one), then routes: `/trpc/*`, the service's own routes, `/health`, `/ready`, else a JSON 404.
 */
export function createListener(options: ListenerOptions) {
  const { routes, metrics, logger } = options;
  return (req: IncomingMessage, res: ServerResponse): void => {
    (req as MeshRequest).startedAt = now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    let requestId = inboundRequestId(req);
    if (requestId === undefined && req.headers[CALLS_HEADER] !== undefined && path.startsWith(TRPC_PREFIX)) {
      const entries = callsOf(req, path);
      if (!(entries instanceof TRPCError)) requestId = entries[0]!.requestId;
    }
    res.setHeader(REQUEST_ID_HEADER, requestId ?? randomUUID());
    if (path.startsWith(TRPC_PREFIX)) return options.trpc(req, res, path.slice(TRPC_PREFIX.length));
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route && (req.method === 'GET' || req.method === 'HEAD')) {
      void Promise.resolve(route(req, res)).catch((err: unknown) => {
        logger.error({ err, path }, 'route failed');
        if (!res.headersSent) sendJson(res, 500, { error: { message: 'Internal server error', appCode: 'INTERNAL' } });
      });
      return;
    }
    if (path === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready' && req.method === 'GET') {
      const { status, body } = options.ready();
      return sendJson(res, status, body);
    }
    metrics.recordRejected('not_found');
    sendJson(res, 404, {
      error: { message: 'Not found', appCode: 'ROUTE_NOT_FOUND', requestId: res.getHeader(REQUEST_ID_HEADER) },
    });
  };
}

/** A whole HTTP response with the mesh's JSON error, for requests node could not parse. */
function rawError(status: number, reason: string, message: string): string {
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { message, appCode: 'BAD_REQUEST', requestId } });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
    `x-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Answers what node's parser refuses (a header too large, a malformed request) with the mesh's JSON error. */
export function onClientError(metrics: ServiceMetrics) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      metrics.recordRejected('header_too_large');
      socket.end(rawError(431, 'Request Header Fields Too Large', 'Request headers too large'));
      return;
    }
    socket.end(rawError(400, 'Bad Request', 'Malformed HTTP request'));
  };
}
