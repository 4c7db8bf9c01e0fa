import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server started by a test on a free port: the shared one on 6379 is never touched. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: Redis is gone (connections refused). */
  kill(): Promise<void>;
  /** Starts it again on the same port: empty, or with `persist` from the last snapshot (`SAVE`). */
  restart(): Promise<void>;
  /** SIGSTOP: Redis is frozen (connections hang). */
  pause(): void;
  resume(): void;
  /** SIGKILL, and the snapshot directory removed. */
  stop(): Promise<void>;
}

/** Options of {@link startTestRedis}. */
export interface TestRedisOptions {
  /**
   * Keeps snapshots in a directory of its own (removed by `stop()`): a `SAVE` writes one, and
   * `restart()` loads it, as a Redis restored from a snapshot. Redis never saves by itself.
   * @default false (no persistence: `restart()` starts empty)
   */
  persist?: boolean;
}

/** A free TCP port on 127.0.0.1 (free when asked; bind it soon). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether the redis-server on `port` is the process `pid` (and not another that took the port). */
function isRedisOf(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (/\r\nprocess_id:\d+\r\n/.test(reply)) done(reply.includes(`\r\nprocess_id:${pid}\r\n`));
    });
  });
}

/** Starts redis-server on `port` and waits until it answers; false when it exits first (port taken). */
async function launchOn(port: number, storage: string[]): Promise<ChildProcess | undefined> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...storage],
    { stdio: 'ignore' },
  );
  const exited = new Promise<false>((resolve) => child.once('exit', () => resolve(false)));
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`redis-server did not start: ${err.message}`))),
  );
  // An 'error' after the start (a failed kill) is not this function's to report.
  failed.catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    const up = await Promise.race([isRedisOf(port, child.pid!), exited, failed]);
    if (up) return child;
    if (child.exitCode !== null || child.signalCode !== null) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
}

/**
 * Starts `redis-server` (from PATH) on a free loopback port, without persistence unless asked.
 * redis-server binds the port it is given, so a start that lost its port to another process is
 * made again on another one; `restart()` keeps the port.
 *
 * @example
 * const redis = await startTestRedis({ persist: true });
 * // SAVE, change things, then: await redis.kill(); await redis.restart(); (back to the snapshot)
 */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = options.persist ? await mkdtemp(join(tmpdir(), 'switchyard-redis-')) : undefined;
  const storage = dir ? ['--dir', dir, '--dbfilename', 'dump.rdb'] : [];
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; !child; attempt++) {
    if (attempt === 5) throw new Error('redis-server lost its port to another process 5 times');
    port = await freePort();
    child = await launchOn(port, storage);
  }
  const launch = async () => {
    child = await launchOn(port, storage);
    if (!child) throw new Error(`redis-server could not bind port ${port} again`);
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      await kill();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
