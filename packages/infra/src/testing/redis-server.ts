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

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(300, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server` (from PATH) on a free loopback port, without persistence unless asked.
 *
 * @example
 * const redis = await startTestRedis({ persist: true });
 * // SAVE, change things, then: await redis.kill(); await redis.restart(); (back to the snapshot)
 */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = options.persist ? await mkdtemp(join(tmpdir(), 'switchyard-redis-')) : undefined;
  const storage = dir ? ['--dir', dir, '--dbfilename', 'dump.rdb'] : [];
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...storage],
      {
        stdio: 'ignore',
      },
    );
    const failed = new Promise<never>((_, reject) =>
      child!.once('error', (err) => reject(new Error(`redis-server did not start: ${err.message}`))),
    );
    for (let i = 0; i < 100; i++) {
      if (await Promise.race([answersPing(port), failed])) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server did not answer on port ${port}`);
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
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
