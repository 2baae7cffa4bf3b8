import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** RedisServerOptions: how startRedisServer() runs its private redis-server. */
export interface RedisServerOptions {
  /** appendOnly: keep an AOF in `dir` so a restart keeps the data (default false). */
  appendOnly?: boolean;
  /** port: reuse this port (for restarts); default a free loopback port from the OS. */
  port?: number;
  /** dir: working directory for AOF files; default a fresh temp dir. */
  dir?: string;
  /** extraArgs: more redis-server options (e.g. `['--hz', '1']`). */
  extraArgs?: string[];
}

/** RedisServerHandle: a redis-server process this test owns, on 127.0.0.1. */
export interface RedisServerHandle {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly appendOnly: boolean;
  /** pid: the pid of the current redis-server process (changes on restart). */
  pid(): number;
  /** stop: SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** kill: SIGKILL and wait for exit (no AOF fsync beyond what was written). */
  kill(): Promise<void>;
  /** pause / resume: SIGSTOP / SIGCONT the server. */
  pause(): void;
  resume(): void;
  /** restart: stop (or kill) and start again on the same port and dir. */
  restart(opts?: { wipeData?: boolean; kill?: boolean }): Promise<void>;
  /** cleanup: stop the process and remove its temp dir. Safe to call twice. */
  cleanup(): Promise<void>;
}

/** freePort asks the OS for a free loopback TCP port (bind to port 0). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** redisServerBinary finds redis-server or throws with the install command. */
export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  if (!bin) {
    throw new Error(
      'redis-server is not installed; tests start their own. Install it with: ' +
        'apt-get install -y --no-install-recommends redis-server',
    );
  }
  return bin;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** serverPid asks the Redis on this port for its pid (INFO server) over a raw socket. */
function serverPid(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (err: Error | null, pid?: number) => { sock.destroy(); if (err) reject(err); else resolve(pid!); };
    sock.setTimeout(2000, () => done(new Error('timeout')));
    sock.on('error', (err) => done(err));
    sock.on('connect', () => sock.write('INFO server\r\n'));
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      const m = /process_id:(\d+)/.exec(buf);
      if (m) done(null, Number(m[1]));
    });
  });
}

async function waitReady(port: number, pid: number, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const seen = await serverPid(port).catch((err: Error) => err);
    if (typeof seen === 'number') {
      if (seen !== pid) throw new Error(`port ${port} answers with redis pid ${seen}, not ours (${pid})`);
      return;
    }
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not become ready: ${seen.message}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * startRedisServer starts a private redis-server on a free 127.0.0.1 port
 * (no RDB snapshots; AOF only when asked) and checks, through INFO's
 * process_id, that the server answering on that port is the one it started.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const bin = redisServerBinary();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'baton-redis-'));
  const appendOnly = options.appendOnly ?? false;
  let port = options.port ?? (await freePort());
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
      '--appendonly', appendOnly ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no', ...(options.extraArgs ?? [])];
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitReady(port, child.pid!);
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      if (child!) { child.kill('SIGKILL'); await waitExit(child); }
      if (options.port !== undefined || attempt >= 3) throw err;
      port = await freePort(); // lost the race for the port: take another
    }
  }

  let cleaned = false;
  const handle: RedisServerHandle = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    appendOnly,
    pid: () => child.pid!,
    async stop() { child.kill('SIGTERM'); await waitExit(child); },
    async kill() { child.kill('SIGKILL'); await waitExit(child); },
    pause() { child.kill('SIGSTOP'); },
    resume() { child.kill('SIGCONT'); },
    async restart(opts = {}) {
      if (opts.kill) await handle.kill(); else await handle.stop();
      if (opts.wipeData) {
        rmSync(dir, { recursive: true, force: true });
        require('node:fs').mkdirSync(dir, { recursive: true });
      }
      await launch();
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await waitExit(child);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** connectTo opens an ioredis client on the server and checks it is ours. */
export async function connectTo(server: RedisServerHandle, extra: Record<string, unknown> = {}): Promise<Redis> {
  const client = new Redis(server.url, { maxRetriesPerRequest: null, ...extra });
  const info = await client.info('server');
  const m = /process_id:(\d+)/.exec(info);
  if (!m || Number(m[1]) !== server.pid()) {
    client.disconnect();
    throw new Error(`Redis at ${server.url} is not the server this test started`);
  }
  return client;
}
