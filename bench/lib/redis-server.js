'use strict';
// A private redis-server for the bench on a free 127.0.0.1 port (the JS
// twin of test/support/redis-server.ts): no persistence, stopped by pid.
const { spawn, spawnSync } = require('node:child_process');
const { createServer } = require('node:net');
const { Redis } = require('ioredis');

/** freePort: a TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** live: the redis-servers started here and not stopped yet; one exit hook kills them all (one hook per server hit MaxListeners). */
const live = new Set();
process.once('exit', () => { for (const child of live) child.kill('SIGKILL'); });

/**
 * startRedisServer → { url, port, pid, version, stop() }. BENCH_REDIS_ARGS
 * adds redis-server options (space-separated, e.g. `--hz 100`) to every
 * server a benchmark starts.
 */
async function startRedisServer() {
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) throw new Error('redis-server not found: apt-get install -y --no-install-recommends redis-server');
  const port = await freePort();
  const extra = (process.env.BENCH_REDIS_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', ...extra], { stdio: 'ignore' });
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', () => { live.delete(child); resolve(); }));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refused until the server listens: retried below
    try {
      await probe.connect();
      const info = await probe.info('server');
      const pid = Number(/process_id:(\d+)/.exec(info)[1]);
      const version = /redis_version:(\S+)/.exec(info)[1];
      probe.disconnect();
      if (pid !== child.pid) { await stop(); throw new Error(`port ${port} is not our redis-server`); }
      return { url, port, pid, version, stop };
    } catch (err) {
      probe.disconnect();
      if (/not our/.test(err.message)) throw err;
      if (Date.now() > deadline) { await stop(); throw err; }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

module.exports = { startRedisServer, freePort };
