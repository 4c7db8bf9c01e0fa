import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import { migrate } from './migrate.js';

/**
 * Runs {@link migrate} in a worker thread (see migrate-in-worker.ts): node-pg-migrate and what it
 * loads live in this thread's heap, which goes when the thread ends. Log lines and the outcome
 * are posted to the parent.
 */
const port = parentPort!;
const { databaseUrl, dir } = workerData as { databaseUrl: string; dir: string };
const forward =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (fields: unknown, msg?: string): void =>
    port.postMessage(typeof fields === 'string' ? { level, msg: fields } : { level, fields, msg });
const logger = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };

migrate({ databaseUrl, dir, logger: logger as unknown as Logger }).then(
  (applied) => port.postMessage({ applied }),
  (err: unknown) =>
    port.postMessage({
      failed: err instanceof Error ? { message: err.message, stack: err.stack, name: err.name } : { message: String(err) },
    }),
);
