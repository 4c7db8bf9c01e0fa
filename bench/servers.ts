// One benchmark server per process: `node --import tsx bench/servers.ts <scenario>`; prints
// `READY <port>` when it listens on 127.0.0.1. The workspace packages load from their
// compiled dist/ (bench/http.ts builds them first), as in production.
// Production settings: NODE_ENV=production, logs at the shipped level to
// /dev/null, no pretty printing.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express from 'express';
import { importJWK, type JWK } from 'jose';
import { openSync } from 'node:fs';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { createAccessTokenVerifier } from '@switchyard/infra/auth';
import { loadConfig, portVar, serviceEnvShape } from '@switchyard/infra/config';
import { LineDestination, createLogger } from '@switchyard/infra/logging';
import { createRedisPlatform } from '@switchyard/infra/redis';
import { createMetrics } from '@switchyard/infra/metrics';
import { createServiceClient } from '@switchyard/infra/client';
import { createService } from '@switchyard/infra/server';
import { implement } from '@switchyard/infra/trpc';

const scenario = process.argv[2] ?? 'raw';
// A clean exit on SIGINT (writes --cpu-prof profiles).
process.on('SIGINT', () => process.exit(0));
const DEV_NULL = openSync('/dev/null', 'w');
const ready = (port: number) => process.stdout.write(`READY ${port}\n`);
import { HOP_KEY } from './shared.js';
const HelloInput = z.object({ name: z.string().min(1).max(50) });

async function raw() {
  const server = createServer((_req, res) => {
    const body = JSON.stringify({ message: 'hello' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ready((server.address() as AddressInfo).port);
}

function stockRouter() {
  const t = initTRPC.create();
  return t.router({ hello: t.procedure.input(HelloInput).query(({ input }) => ({ message: `hello ${input.name}` })) });
}

async function trpcStandalone() {
  const server = createHTTPServer({ router: stockRouter() });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ready((server.address() as AddressInfo).port);
}

async function trpcExpress() {
  const app = express();
  app.use('/', createExpressMiddleware({ router: stockRouter() }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  ready((server.address() as AddressInfo).port);
}

/** Switchyard: the same procedure through createService (request id, metrics, access log always on). */
async function switchyard(options: {
  adapter?: 'fast' | 'stock';
  auth?: boolean;
  jwtCache?: boolean;
  rateLimit?: boolean;
  log?: boolean;
}) {
  const contract = defineContract({
    hello: {
      type: 'query',
      input: HelloInput,
      output: z.object({ message: z.string() }),
      access: options.auth ? 'user' : 'public',
    },
  });
  const router = implement(contract, { hello: ({ input }) => ({ message: `hello ${input.name}` }) });
  const config = loadConfig(z.object({ ...serviceEnvShape, PORT: portVar(0), METRICS_PORT: portVar(0) }), {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DRAIN_DELAY_MS: '0',
    RATE_LIMIT_POINTS: '1000000000',
    // The hop scenarios' caller (sy-hop) identifies itself with this key.
    TRUSTED_SERVICE_KEYS: `hop=${HOP_KEY}`,
  });
  const logger = createLogger({
    service: 'bench',
    level: options.log === false ? 'silent' : 'info',
    // As shipped (createLogger's stdout destination), into /dev/null.
    destination: new LineDestination(DEV_NULL),
  });
  const metrics = createMetrics({ service: 'bench', procedures: ['hello'] });
  let verifyAccessToken;
  if (options.auth) {
    // The runner holds the private key and signs a fresh token for each measurement (tokens live 5 min).
    const publicKey = await importJWK(JSON.parse(process.env.BENCH_PUBLIC_JWK!) as JWK, 'ES256');
    verifyAccessToken = createAccessTokenVerifier({
      keys: async () => publicKey,
      cacheMaxEntries: options.jwtCache === false ? 0 : 10_000,
    });
  }
  const platform =
    options.rateLimit && process.env.REDIS_URL
      ? createRedisPlatform({ service: 'bench', url: process.env.REDIS_URL, config, logger, registry: metrics.registry })
      : undefined;
  const service = createService({
    name: 'bench',
    router,
    config,
    logger,
    metrics,
    adapter: options.adapter ?? 'fast',
    ...(verifyAccessToken ? { verifyAccessToken } : {}),
    ...(platform ? { rateLimiter: platform.rateLimiter } : {}),
  });
  const { port } = await service.start();
  ready(port);
}

/**
 * A service whose `hello` calls `hello` on another (HOP_TARGET) through the contract client: the
 * inter-service hop. `policies: false` is the same client without its policy stack.
 */
async function hop(options: { policies: boolean }) {
  const contract = defineContract({
    hello: { type: 'query', input: HelloInput, output: z.object({ message: z.string() }), access: 'public' },
  });
  const target = createServiceClient({
    target: 'bench',
    contract,
    url: process.env.HOP_TARGET!,
    caller: { service: 'hop', key: HOP_KEY },
    ...(options.policies ? {} : { policies: false as const }),
  });
  const router = implement(contract, { hello: ({ input, ctx }) => target.with(ctx).hello.query({ name: input.name }) });
  const config = loadConfig(z.object({ ...serviceEnvShape, PORT: portVar(0), METRICS_PORT: portVar(0) }), {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DRAIN_DELAY_MS: '0',
  });
  const logger = createLogger({ service: 'hop', destination: new LineDestination(DEV_NULL) });
  const service = createService({ name: 'hop', router, config, logger });
  const { port } = await service.start();
  ready(port);
}

const scenarios: Record<string, () => Promise<void>> = {
  'sy-hop': () => hop({ policies: true }),
  'sy-hop-no-policies': () => hop({ policies: false }),
  raw,
  'trpc-standalone': trpcStandalone,
  'trpc-express': trpcExpress,
  'sy-bare': () => switchyard({}),
  'sy-bare-stock': () => switchyard({ adapter: 'stock' }),
  'sy-full': () => switchyard({ auth: true, rateLimit: true }),
  'sy-full-stock': () => switchyard({ auth: true, rateLimit: true, adapter: 'stock' }),
  'sy-full-no-jwt-cache': () => switchyard({ auth: true, rateLimit: true, jwtCache: false }),
  'sy-full-no-ratelimit': () => switchyard({ auth: true }),
  'sy-full-no-log': () => switchyard({ auth: true, rateLimit: true, log: false }),
  'sy-full-no-auth': () => switchyard({ rateLimit: true }),
};
const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
await run();
