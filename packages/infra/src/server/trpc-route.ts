import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import type { ServiceMetrics } from '../metrics/metrics.js';
import { jsonContentType } from '../engine/fast-plan.js';
import type { MeshRequest } from './mesh-request.js';
import { readRequestBody } from './request-body.js';
import type { TrpcHandler } from './trpc-handler.js';

/** What {@link createTrpcRoute} needs. */
export interface TrpcRouteOptions {
  trpc: TrpcHandler;
  maxBodyBytes: number;
  metrics: ServiceMetrics;
  logger: Logger;
}

/**
 * Serves `/trpc/<path>`: queries are GETs and mutations JSON POSTs, and nothing else reaches tRPC
 * (its form-data and octet-stream parsers stay off). A POST's body is read first, before any
 * other check, so an oversized one is answered 413 (and read to its end) whoever sends it.
 */
export function createTrpcRoute(options: TrpcRouteOptions) {
  const { trpc, logger } = options;
  const serve = (req: IncomingMessage, res: ServerResponse, path: string) =>
    trpc(req, res, path).catch((err: unknown) => {
      logger.error({ err }, 'tRPC handler failed');
      res.destroy();
    });
  const refuse = (req: IncomingMessage, res: ServerResponse, path: string, code: TRPCError['code'], message: string) =>
    trpc.refuse(req, res, path, new TRPCError({ code, message }));

  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (req.method === 'GET') {
      void serve(req, res, path);
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      refuse(req, res, path, 'METHOD_NOT_SUPPORTED', `${req.method} is not supported: queries are GET, mutations POST`);
      return;
    }
    if (!jsonContentType(req.headers['content-type'])) {
      refuse(req, res, path, 'UNSUPPORTED_MEDIA_TYPE', 'A mutation body must be application/json');
      return;
    }
    void readRequestBody(req, { maxBytes: options.maxBodyBytes }).then((read) => {
      if (read.ok) {
        (req as MeshRequest).body = read.text;
        return serve(req, res, path);
      }
      if (read.reason === 'aborted') return void res.destroy();
      options.metrics.recordRejected('body_too_large');
      refuse(req, res, path, 'PAYLOAD_TOO_LARGE', `Request body over ${options.maxBodyBytes} bytes`);
    });
  };
}
