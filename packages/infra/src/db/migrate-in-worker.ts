import { Worker } from 'node:worker_threads';
import type { MigrateOptions } from './migrate.js';

type WorkerMessage =
  | { level: 'debug' | 'info' | 'warn' | 'error'; fields?: object; msg?: string }
  | { applied: string[] }
  | { failed: { message: string; stack?: string; name?: string } };

/**
 * {@link migrate} in a worker thread: node-pg-migrate (with jiti and glob, ~1 MB of code) is
 * needed once, at start-up, and a module loaded in the service's own thread stays in its memory
 * for good. Same options, logs and outcome. Where the worker cannot start (a runtime that cannot
 * load its source), migrations run in this thread instead.
 */
export async function migrateInWorker(options: MigrateOptions): Promise<string[]> {
  // The worker's file beside this one: compiled (.js), or the source (.ts, in development and
  // tests), which the worker loads through tsx's API (loader hooks of the parent thread do not
  // reach a worker in Node 20).
  const source = import.meta.url.endsWith('.ts');
  const file = new URL(`./migrate-worker${source ? '.ts' : '.js'}`, import.meta.url);
  const workerData = { databaseUrl: options.databaseUrl, dir: options.dir };
  let worker: Worker;
  try {
    worker = source
      ? new Worker(
          `(async () => {
            const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});
            register();
            await import(${JSON.stringify(file.href)});
          })();`,
          { eval: true, workerData },
        )
      : new Worker(file, { workerData });
  } catch (err) {
    return inThisThread(options, err);
  }
  return new Promise<string[]>((resolve, reject) => {
    let answered = false;
    let fellBack = false;
    worker.on('message', (message: WorkerMessage) => {
      answered = true;
      if ('level' in message) {
        options.logger[message.level](message.fields ?? {}, message.msg);
      } else if ('applied' in message) {
        resolve(message.applied);
        void worker.terminate();
      } else {
        reject(Object.assign(new Error(message.failed.message), message.failed));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => {
      // Failed before saying anything: it could not load; migrate here. Else the migration failed.
      if (answered) {
        reject(err);
        return;
      }
      fellBack = true;
      inThisThread(options, err).then(resolve, reject);
    });
    worker.on('exit', (code) => {
      if (code !== 0 && !fellBack) reject(new Error(`the migration worker exited with code ${code}`));
    });
  });
}

async function inThisThread(options: MigrateOptions, cause: unknown): Promise<string[]> {
  options.logger.debug({ err: cause }, 'migration worker unavailable: migrating in the service thread');
  const { migrate } = await import('./migrate.js');
  return migrate(options);
}
