// Redis for `npm run dev`. Uses REDIS_URL when set, else a Redis already answering on 6379, else
// starts `redis-server` on 6379 (installing Debian's package as root when it is missing), and
// stays in the foreground until Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

const say = (line) => process.stdout.write(`${line}\n`);
const idle = () => setInterval(() => undefined, 1 << 30);

function answers(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => (socket.destroy(), resolve(String(data).startsWith('+PONG'))));
  });
}

const has = (binary) => spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;

if (process.env.REDIS_URL) {
  say(`dev-redis: using REDIS_URL (${process.env.REDIS_URL.replace(/\/\/[^@]*@/, '//')})`);
  idle();
} else if (await answers(6379)) {
  say('dev-redis: using the Redis already running on 127.0.0.1:6379');
  idle();
} else {
  if (!has('redis-server') && process.getuid?.() === 0 && has('apt-get')) {
    say("dev-redis: redis-server is missing: installing Debian's redis-server");
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!has('redis-server')) {
    say(
      'dev-redis: no Redis on 127.0.0.1:6379 and no redis-server. Install it with: apt-get install -y redis-server (or set REDIS_URL)',
    );
    process.exit(1);
  }
  say('dev-redis: no Redis on 127.0.0.1:6379: starting redis-server there (no persistence)');
  const child = spawn('redis-server', ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill('SIGTERM'));
  child.on('exit', (code) => process.exit(code ?? 0));
}
