#!/usr/bin/env node
/**
 * A local Baton cluster without Docker: `npm run cluster` (builds first).
 *
 *   node scripts/cluster.js [--nodes N] [--lease MS] [--base-port P]
 *   node scripts/cluster.js seed --url URL [--token T]   (only PUT the demo schedules)
 *
 * Uses REDIS_URL when set, else starts a private redis-server (AOF, temp dir) on
 * a free loopback port. Starts N nodes of dist/apps/baton/main.js, prefixes their
 * output with a coloured [node-i] tag, seeds scripts/demo-schedules.json, prints
 * how to poke the cluster, and on Ctrl-C / SIGTERM stops the nodes (SIGTERM, then
 * SIGKILL after 10 s) and the redis-server it started. Plain Node, no dependencies.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { parseArgs } = require('node:util');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.resolve(ROOT, process.env.BATON_CLUSTER_MAIN || 'dist/apps/baton/main.js');
const SCHEDULES = path.join(__dirname, 'demo-schedules.json');
const HOST = '127.0.0.1';
const STOP_GRACE_MS = 10_000;

const useColour = !process.env.NO_COLOR && (Boolean(process.env.FORCE_COLOR) || process.stdout.isTTY);
const TAG_COLOURS = [36, 35, 33, 32, 34, 91, 96, 95, 93];
const paint = (code, text) => (useColour ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (text) => paint(1, text);
const say = (text) => process.stdout.write(`${paint(1, '[cluster]')} ${text}\n`);
const warn = (text) => process.stderr.write(`${paint('1;31', '[cluster]')} ${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A Redis URL fit to print: any password replaced by ***. */
const shown = (url) => url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');

/** Command-line options (throws on unknown flags or bad numbers). */
function parseOptions(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nodes: { type: 'string', default: '3' },
      lease: { type: 'string' },
      'base-port': { type: 'string', default: '3001' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (name, value, min, max) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}..${max}, got "${value}"`);
    return n;
  };
  return {
    command: positionals[0] || 'run',
    help: values.help,
    nodes: int('nodes', values.nodes, 1, 9),
    leaseMs: values.lease !== undefined ? int('lease', values.lease, 300, 600_000) : undefined,
    basePort: int('base-port', values['base-port'], 1, 65535),
    url: values.url,
    token: values.token || process.env.BATON_API_TOKEN || 'change-me',
  };
}

/** Resolves with the port if nothing listens on HOST:port, else with undefined. */
function tryListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, HOST, () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });
}

/** `count` distinct free ports: base, base+1, ... where free, else OS-chosen ones. */
async function choosePorts(base, count) {
  const ports = [];
  for (let i = 0; i < count; i += 1) {
    const wanted = base + i <= 65535 ? await tryListen(base + i) : undefined;
    let port = wanted;
    while (port === undefined || ports.includes(port)) port = await tryListen(0);
    if (port !== base + i) say(`port ${base + i} is taken; node-${i + 1} uses ${port}`);
    ports.push(port);
  }
  return ports;
}

/** Pipes a stream line by line to `out`, each line prefixed with `tag`. */
function prefixLines(stream, tag, out) {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${tag} ${line}\n`));
}

/** True once a RESP PING on `port` answers +PONG. */
function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

/** Starts a private redis-server with AOF in a temp dir; resolves once it answers PING. */
async function startRedis() {
  const port = await tryListen(0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-cluster-'));
  const logFile = path.join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--appendonly', 'yes', '--save', '',
    '--daemonize', 'no', '--loglevel', 'warning', '--logfile', logFile];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  prefixLines(child.stderr, paint(2, '[redis]'), process.stderr);
  const failed = new Promise((_, reject) => {
    child.once('error', (err) => reject(err.code === 'ENOENT'
      ? new Error('redis-server not found. Install it (sudo apt-get install -y --no-install-recommends redis-server) or set REDIS_URL=redis://host:port')
      : err));
    child.once('exit', (code, signal) => reject(new Error(`redis-server exited during start (${signal || `code ${code}`})`)));
  });
  failed.catch(() => {});
  try {
    const deadline = Date.now() + 10_000;
    while (!(await Promise.race([redisPing(port), failed]))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      await sleep(50);
    }
  } catch (err) {
    if (child.exitCode === null && child.pid) child.kill('SIGKILL');
    err.message += redisLogTail({ logFile });
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { child, port, dir, logFile, url: `redis://${HOST}:${port}` };
}

/** The last lines of the private redis-server's log, for error messages. */
function redisLogTail(redis, lines = 5) {
  try {
    const tail = fs.readFileSync(redis.logFile, 'utf8').trimEnd().split('\n').slice(-lines);
    return tail.length && tail[0] ? `\n  redis log (${redis.logFile}):\n    ${tail.join('\n    ')}` : '';
  } catch {
    return '';
  }
}

/** Starts one Baton node as a child process, its output prefixed with a coloured tag. */
function startNode(index, port, env) {
  const id = `node-${index + 1}`;
  const tag = paint(`1;${TAG_COLOURS[index % TAG_COLOURS.length]}`, `[${id}]`);
  const childEnv = { ...process.env, ...env, PORT: String(port), HOST, BATON_NODE_ID: id };
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  prefixLines(child.stdout, tag, process.stdout);
  prefixLines(child.stderr, tag, process.stderr);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { id, port, child, exited, alive: true, url: `http://${HOST}:${port}`, env: childEnv };
}

/** fetch with a timeout; resolves with { status, body } (body parsed when JSON). */
async function request(method, url, { token, body, timeoutMs = 5000 } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Polls `${url}/health/ready` until 2xx; rejects after timeoutMs or when `gaveUp()` says so. */
async function waitReady(url, timeoutMs, gaveUp = () => undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = gaveUp();
    if (reason) throw new Error(reason);
    try {
      if ((await request('GET', `${url}/health/ready`, { timeoutMs: 1000 })).status < 300) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${url}/health/ready not ready within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** PUTs every schedule of demo-schedules.json through `baseUrl`; returns how many failed. */
async function seedSchedules(baseUrl, token) {
  const schedules = JSON.parse(fs.readFileSync(SCHEDULES, 'utf8'));
  let failed = 0;
  for (const schedule of schedules) {
    const url = `${baseUrl}/api/schedules/${encodeURIComponent(schedule.name)}`;
    try {
      const res = await request('PUT', url, { token, body: schedule });
      if (res.status >= 300) throw new Error(`HTTP ${res.status} ${JSON.stringify(res.body)}`);
      say(`schedule ${bold(schedule.name)} (${schedule.cron}, handler ${schedule.handler}) ${res.status === 201 ? 'created' : 'replaced'}`);
    } catch (err) {
      failed += 1;
      warn(`PUT ${url} failed: ${err.message}`);
    }
  }
  return failed;
}

/** The leader's node id from GET /api/cluster, or undefined. */
async function currentLeader(nodes, token) {
  for (const node of nodes.filter((n) => n.alive)) {
    try {
      const res = await request('GET', `${node.url}/api/cluster`, { token, timeoutMs: 2000 });
      if (res.status === 200) return res.body?.leader?.nodeId ?? undefined;
    } catch { /* try the next node */ }
  }
  return undefined;
}

/** Prints node URLs and pids, the token, curl examples and how to provoke a failover. */
function printBanner(nodes, redis, token, leader, leaseMs) {
  const auth = `-H 'Authorization: Bearer ${token}'`;
  const first = nodes[0].url;
  const lines = [
    '',
    bold(`Baton cluster is up: ${nodes.length} node(s) on ${shown(redis.url)}${redis.dir ? ` (private redis-server, AOF in ${redis.dir})` : ''}`),
    ...nodes.map((n) => `  ${n.id.padEnd(7)} ${n.url.padEnd(24)} pid ${String(n.child.pid).padEnd(8)}${n.id === leader ? ' <- leader' : ''}`),
    `  API token: ${token}    OpenAPI: ${first}/docs`,
    '',
    '  curl -s ' + `${auth} ${first}/api/cluster`,
    '  curl -s -X POST ' + `${auth} ${first}/api/cluster/resign     # leader hands over`,
    '  curl -s ' + `${auth} '${first}/api/schedules/demo-every-2s/runs?limit=5'`,
    '',
    `  Failover: kill -9 <pid of the leader> (a follower takes over once the ${leaseMs ? `${leaseMs} ms ` : ''}lease expires),`,
    '            kill <pid> (SIGTERM: graceful, the lease is handed over at once).',
    '  Ctrl-C stops every node and the Redis this script started.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const signal = (child, sig) => { try { child.kill(sig); } catch { /* already gone */ } };

/** Stops the nodes (SIGTERM, SIGKILL after STOP_GRACE_MS), then the private redis-server. */
async function stopAll({ nodes, redis }) {
  const alive = nodes.filter((n) => n.alive);
  if (alive.length) say(`stopping ${alive.map((n) => n.id).join(', ')} (SIGTERM; SIGKILL after ${STOP_GRACE_MS / 1000} s)`);
  alive.forEach((n) => signal(n.child, 'SIGTERM'));
  const killer = setTimeout(() => nodes.filter((n) => n.alive).forEach((n) => {
    warn(`${n.id} did not stop in time: SIGKILL`);
    signal(n.child, 'SIGKILL');
  }), STOP_GRACE_MS);
  await Promise.all(nodes.map((n) => n.exited));
  clearTimeout(killer);
  if (!redis?.child) return;
  const { child } = redis;
  const gone = new Promise((resolve) => (child.exitCode !== null || child.signalCode ? resolve() : child.once('exit', resolve)));
  signal(child, 'SIGTERM');
  const redisKiller = setTimeout(() => signal(child, 'SIGKILL'), 5000);
  await gone;
  clearTimeout(redisKiller);
  fs.rmSync(redis.dir, { recursive: true, force: true });
  say('redis-server stopped');
}

/** Stops everything once (later calls share the first promise). */
function stop(state, why) {
  if (!state.stopping) {
    if (why) say(why);
    state.stopping = stopAll(state).then(() => say('all stopped'));
  }
  return state.stopping;
}

/** Ctrl-C / SIGTERM stop the cluster; a second one SIGKILLs the nodes. Exit kills leftovers. */
function handleSignals(state) {
  const onSignal = (sig) => () => {
    if (!state.stopping) return stop(state, `${sig} received`).then(() => process.exit(0), () => process.exit(1));
    warn(`${sig} again: killing the nodes now`);
    state.nodes.forEach((n) => n.alive && signal(n.child, 'SIGKILL'));
  };
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));
  process.on('exit', () => [...state.nodes.map((n) => n.alive && n.child), state.redis?.child]
    .forEach((c) => c && c.exitCode === null && signal(c, 'SIGKILL')));
}

/** REDIS_URL when set, else a private redis-server that warns if it dies while in use. */
async function redisFor(state) {
  if (process.env.REDIS_URL) {
    say(`using REDIS_URL=${shown(process.env.REDIS_URL)}`);
    return { url: process.env.REDIS_URL };
  }
  const redis = await startRedis();
  say(`started redis-server on ${redis.url} (pid ${redis.child.pid}, AOF in ${redis.dir})`);
  redis.child.once('exit', (code, sig) => {
    if (!state.stopping) warn(`redis-server exited (${sig || `code ${code}`}); the nodes will report Redis errors. Ctrl-C to stop.${redisLogTail(redis)}`);
  });
  return redis;
}

/** Reports a node that exits while the cluster is up, with the command to start it again. */
function watchNode(node, state, leaseMs) {
  node.exited.then(({ code, signal: sig }) => {
    node.alive = false;
    if (state.stopping || !state.up) return;
    warn(`${node.id} (pid ${node.child.pid}) ${sig ? `killed by ${sig}` : `exited with code ${code}`}. Not restarting it. If it led, a follower takes over within ~${leaseMs} ms.`);
    const keys = ['REDIS_URL', 'PORT', 'HOST', 'BATON_NODE_ID', 'BATON_API_TOKEN', 'BATON_LEASE_MS', 'LOG_FORMAT'];
    const rel = path.relative(process.cwd(), MAIN);
    const entry = rel.startsWith('..') || path.isAbsolute(rel) ? MAIN : rel;
    warn(`start it again in another terminal: ${keys.map((k) => `${k}=${node.env[k]}`).join(' ')} node ${entry}`);
    if (state.nodes.every((n) => !n.alive)) stop(state, 'every node has exited').then(() => process.exit(1));
  });
}

/** The default command: Redis, N nodes, demo schedules, banner; runs until a signal. */
async function run(opts) {
  if (!fs.existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first (\`npm run cluster\` does both)`);
  const state = { nodes: [], redis: undefined, stopping: undefined, up: false };
  handleSignals(state);
  try {
    state.redis = await redisFor(state);
    const ports = await choosePorts(opts.basePort, opts.nodes);
    const leaseMs = opts.leaseMs ?? Number(process.env.BATON_LEASE_MS || 3000);
    const env = { REDIS_URL: state.redis.url, BATON_API_TOKEN: opts.token, BATON_LEASE_MS: String(leaseMs), LOG_FORMAT: process.env.LOG_FORMAT || 'pretty' };
    if (useColour) env.FORCE_COLOR = process.env.FORCE_COLOR || '1';
    state.nodes.push(...ports.map((port, i) => startNode(i, port, env)));
    state.nodes.forEach((node) => watchNode(node, state, leaseMs));
    say(`starting ${state.nodes.map((n) => `${n.id} (pid ${n.child.pid}, port ${n.port})`).join(', ')}`);
    await Promise.all(state.nodes.map((n) => waitReady(n.url, 60_000, () => (n.alive ? undefined : `${n.id} exited before it was ready`))));
    const failed = await seedSchedules(state.nodes[0].url, opts.token);
    if (failed) warn(`${failed} demo schedule(s) could not be stored; the cluster runs anyway`);
    printBanner(state.nodes, state.redis, opts.token, await currentLeader(state.nodes, opts.token), leaseMs);
    state.up = true;
    if (state.nodes.every((n) => !n.alive)) stop(state, 'every node has exited').then(() => process.exit(1));
  } catch (err) {
    warn(err.message);
    await stop(state, 'stopping after a failed start');
    process.exit(1);
  }
}

/** `seed` command: wait for one node to be ready, then PUT the demo schedules (used by docker-compose). */
async function seed(opts) {
  const url = (opts.url || `http://${HOST}:${opts.basePort}`).replace(/\/+$/, '');
  say(`waiting for ${url}/health/ready`);
  await waitReady(url, 120_000);
  const failed = await seedSchedules(url, opts.token);
  process.exit(failed ? 1 : 0);
}

function usage() {
  process.stdout.write(`Usage:
  node scripts/cluster.js [--nodes N] [--lease MS] [--base-port P]   start a local cluster (default 3 nodes, ports 3001+)
  node scripts/cluster.js seed [--url URL] [--token T]              only PUT scripts/demo-schedules.json
Environment: REDIS_URL (else a private redis-server is started), BATON_API_TOKEN (default change-me),
BATON_LEASE_MS (default 3000), LOG_FORMAT (default pretty), BATON_CLUSTER_MAIN (entry to run,
default dist/apps/baton/main.js).
`);
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    warn(err.message);
    usage();
    process.exit(2);
  }
  if (opts.help) return usage();
  if (opts.command === 'seed') return seed(opts);
  if (opts.command !== 'run') { warn(`unknown command "${opts.command}"`); usage(); process.exit(2); }
  return run(opts);
}

main().catch((err) => { warn(process.env.DEBUG ? err.stack : err.message); process.exit(1); });
