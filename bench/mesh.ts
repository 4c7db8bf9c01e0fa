// S9 and memory of docs/performance.md.
// S9: the Redis rate limiter (RateLimiter.consume, 50 in flight, this process on core 0) against
//     `redis-benchmark` running the same Lua script with EVALSHA (50 clients, core 0), one
//     redis-server on core 1 for both; interleaved rounds, ratio median (min-max).
// Memory: each service (auth, notes, activity) from its compiled dist/ with NODE_ENV=production,
//     its own database and Redis: RSS 5 s after it listens (start-up's young generation still
//     held), and settled: after 60 s idle, once V8's memory reducer has run (it shrinks the heap
//     when allocation stays low; seen here between 5 and 30 s). `--quick` takes the first only.
// Writes bench/results/mesh.json. `--quick`: one short round.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RateLimiter } from '@switchyard/infra/rate-limit';
import { createTestDatabase, spawnService, startTestRedis, type SpawnedService } from '@switchyard/infra/testing';
import { createTestMeshEnv } from '@switchyard/mesh/test-env';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 1 : 5;
const REPO = fileURLToPath(new URL('../', import.meta.url));
// Node flags of the measured services (e.g. BENCH_NODE_FLAGS='--max-semi-space-size=2'), to try settings.
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// rate-limiter-flexible's script (RateLimiterRedis, incrTtlLuaScript), as RateLimiter runs it.
const SCRIPT = `redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX') local consumed = redis.call('incrby', KEYS[1], ARGV[1]) local ttl = redis.call('pttl', KEYS[1]) if ttl == -1 then redis.call('expire', KEYS[1], ARGV[2]) ttl = 1000 * ARGV[2] end return {consumed, ttl}`;

async function limiterPerSecond(limiter: RateLimiter, seconds: number): Promise<number> {
  let decisions = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async (_, worker) => {
      while (performance.now() < until) {
        await limiter.consume(`bench-${worker % 10}`, 1);
        decisions++;
      }
    }),
  );
  return decisions / ((performance.now() - t0) / 1000);
}

function redisBenchmark(port: number, sha: string, requests: number): number {
  const run = spawnSync(
    'taskset',
    [
      '-c',
      '0',
      'redis-benchmark',
      '-p',
      String(port),
      '-c',
      '50',
      '-n',
      String(requests),
      '-q',
      'evalsha',
      sha,
      '1',
      'bench:rl:rb',
      '1',
      '60',
      '1000000000',
      '60',
    ],
    { encoding: 'utf8' },
  );
  const match = /([\d.]+) requests per second/.exec(run.stdout);
  if (!match) throw new Error(`redis-benchmark: ${run.stdout}${run.stderr}`);
  return Number(match[1]);
}

export async function benchLimiter(): Promise<Record<string, unknown>> {
  spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const redis = await startTestRedis();
  // The server alone on core 1, the load generator on core 0.
  const pid = spawnSync('sh', ['-c', `pgrep -f "redis-server.*:${redis.port}"`], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')[0];
  if (pid) spawnSync('taskset', ['-cp', '1', pid], { stdio: 'ignore' });
  const client = new Redis(redis.url, { enableOfflineQueue: true });
  try {
    const sha = (await client.script('LOAD', SCRIPT)) as string;
    const limiter = new RateLimiter({ redis: client, keyPrefix: 'bench:rl', points: 1_000_000_000, windowSeconds: 60 });
    await limiterPerSecond(limiter, quick ? 0.3 : 2); // warm up
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(await limiterPerSecond(limiter, SECONDS));
      theirs.push(redisBenchmark(redis.port, sha, Math.round(median(ours) * SECONDS)));
    }
    const ratios = ours.map((o, i) => o / theirs[i]!);
    const result = {
      limiterPerSecond: median(ours),
      redisBenchmarkPerSecond: median(theirs),
      ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    };
    console.log(
      `S9 Redis limiter ${median(ours).toFixed(0)} decisions/s vs redis-benchmark EVALSHA ${median(theirs).toFixed(0)}/s: ratio ${result.ratio.median.toFixed(2)} (${result.ratio.min.toFixed(2)}-${result.ratio.max.toFixed(2)})`,
    );
    return result;
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

export async function benchMemory(): Promise<Record<string, Record<string, number>>> {
  const build = spawnSync('npx', ['turbo', 'run', 'build', '--filter=./apps/*', '--output-logs=errors-only'], {
    cwd: REPO,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (build.status !== 0) throw new Error('build failed');
  const redis = await startTestRedis();
  const dbs = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
  const running: SpawnedService[] = [];
  const meshEnv = createTestMeshEnv();
  const start = (app: string, env: Record<string, string>) =>
    spawnService({
      command: [process.execPath, ...NODE_FLAGS, 'dist/main.js'],
      cwd: `${REPO}apps/${app}`,
      env: { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', REDIS_URL: redis.url, ...env },
    }).then((s) => (running.push(s), s));
  try {
    const auth = await start('auth', { ...meshEnv.of('auth', {}), DATABASE_URL: dbs[0]!.url });
    const notes = await start('notes', { ...meshEnv.of('notes', { auth: [auth.url] }), DATABASE_URL: dbs[1]!.url });
    const activity = await start('activity', { ...meshEnv.of('activity', { auth: [auth.url] }), DATABASE_URL: dbs[2]!.url });
    const sample = () => ({ auth: rssMb(auth.child.pid!), notes: rssMb(notes.child.pid!), activity: rssMb(activity.child.pid!) });
    const line = (r: Record<string, number>) =>
      Object.entries(r)
        .map(([name, mb]) => `${name} ${mb.toFixed(0)} MB`)
        .join(', ');
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const afterStart = sample();
    console.log(`memory: RSS 5 s after start: ${line(afterStart)} (dist/, NODE_ENV=production)`);
    if (quick) return { afterStart };
    await new Promise((resolve) => setTimeout(resolve, 55_000));
    const settled = sample();
    console.log(`memory: idle RSS, settled after 60 s idle: ${line(settled)} (target <= 80 MB each)`);
    const result = { afterStart, settled };
    return result;
  } finally {
    for (const s of running) s.signal('SIGKILL');
    await redis.stop();
    await Promise.all(dbs.map((db) => db.drop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = {
    limiter: process.argv.includes('--memory-only') ? undefined : await benchLimiter(),
    memoryMb: await benchMemory(),
  };
  mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
  writeFileSync(fileURLToPath(new URL('results/mesh.json', import.meta.url)), `${JSON.stringify(result, null, 2)}\n`);
}
