'use strict';
// Real Baton node processes for the benches: each runs bench/lib/node-main.js
// (the working tree's sources through the swc hook), configured only by the
// environment, with JSON logs parsed into records. Every process started here
// is killed by stopAll() and, as a last resort, by a process 'exit' hook.
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');
const { freePort } = require('./redis-server');
const { buildSources } = require('./build');

const ENTRY = path.join(__dirname, 'node-main.js');
const ROOT = path.resolve(__dirname, '../..');
const alive = new Set();
process.once('exit', () => { for (const child of alive) child.kill('SIGKILL'); });

/** Variables of the bench's own environment that never reach a node. */
const NOT_INHERITED = /^(BATON_|REDIS_|LOG_|BENCH_|NODE_OPTIONS$|PORT$|HOST$)/;

function baseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !NOT_INHERITED.test(k)));
}

/**
 * NodeSet: the Baton nodes of one deployment (one Redis URL, one prefix).
 * `records` holds every parsed log line ({...line, node}); `on('record')`
 * sees each as it arrives. `nodeArgs`: node options of every process it
 * starts (default: BENCH_NODE_ARGS, space-separated).
 */
class NodeSet extends EventEmitter {
  constructor({ redisUrl, prefix, env = {}, entry = ENTRY, nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) }) {
    super();
    this.setMaxListeners(0);
    this.redisUrl = redisUrl;
    this.prefix = prefix;
    this.env = env;
    this.entry = entry;
    this.nodeArgs = nodeArgs;
    this.records = [];
    /** procs: id → the latest process of that id ({id, child, pid, exited, state}). */
    this.procs = new Map();
  }

  /**
   * start spawns node `id` (BATON_NODE_ID) on a free port and resolves once it
   * logged node.started or, when LOG_LEVEL hides that line, once its
   * /health/live answers.
   */
  async start(id, extraEnv = {}, { entry = this.entry, timeoutMs = 30_000 } = {}) {
    const port = await freePort();
    const env = {
      ...baseEnv(), REDIS_URL: this.redisUrl, PORT: String(port), HOST: '127.0.0.1', BATON_NODE_ID: id,
      BATON_PREFIX: this.prefix, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...this.env, ...extraEnv,
    };
    if (entry === ENTRY && !env.BENCH_BUILD_DIR) env.BENCH_BUILD_DIR = buildSources();
    const child = spawn(process.execPath, [...this.nodeArgs, entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    alive.add(child);
    const proc = { id, child, pid: child.pid, state: 'running', stderr: '' };
    proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      alive.delete(child);
      proc.state = 'exited';
      resolve({ code, signal });
    }));
    readline.createInterface({ input: child.stdout }).on('line', (line) => this.onLine(id, line));
    child.stderr.on('data', (d) => { proc.stderr = (proc.stderr + d).slice(-4000); });
    this.procs.set(id, proc);
    proc.port = port;
    const quiet = entry === ENTRY && /^(warn|error)$/.test(env.LOG_LEVEL);
    if (quiet) await this.untilLive(proc, timeoutMs);
    else await this.waitFor((r) => r.node === id && r.event === 'node.started' && r.pid === child.pid, timeoutMs, `${id} to start`, proc);
    return proc;
  }

  async untilLive(proc, timeoutMs) {
    const live = () => fetch(`http://127.0.0.1:${proc.port}/health/live`, { signal: AbortSignal.timeout(1000) })
      .then((res) => res.ok, () => false);
    const ok = await pollUntil(async () => proc.state === 'exited' || live(), timeoutMs, 50);
    if (!ok || proc.state === 'exited') throw new Error(`node ${proc.id} did not start: ${proc.stderr.slice(-800)}`);
  }

  onLine(id, line) {
    if (line[0] !== '{') return;
    let rec;
    try { rec = JSON.parse(line); } catch { return; }
    rec.node ??= id;
    this.records.push(rec);
    this.emit('record', rec);
  }

  /** waitFor resolves with the first record (already seen or arriving) matching `pred`; rejects after timeoutMs. */
  waitFor(pred, timeoutMs, what = 'a log record', proc = undefined, from = 0) {
    for (let i = from; i < this.records.length; i++) if (pred(this.records[i])) return Promise.resolve(this.records[i]);
    return new Promise((resolve, reject) => {
      const onRecord = (rec) => { if (pred(rec)) { done(); resolve(rec); } };
      const onExit = () => { done(); reject(new Error(`node ${proc.id} exited while waiting for ${what}: ${proc.stderr.slice(-800)}`)); };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.off('record', onRecord); proc?.child.off('exit', onExit); };
      this.on('record', onRecord);
      proc?.child.once('exit', onExit);
    });
  }

  /** running: ids whose latest process has not exited. */
  running() {
    return [...this.procs.values()].filter((p) => p.state === 'running').map((p) => p.id);
  }

  /** signal sends `sig` to node `id`'s process; returns Date.now() just before sending it (the fault instant). */
  signal(id, sig) {
    const proc = this.procs.get(id);
    const at = Date.now();
    proc.child.kill(sig);
    return at;
  }

  /** stopAll: SIGTERM every running node, SIGKILL what has not exited after graceMs; resolves when all exited. */
  async stopAll(graceMs = 3000) {
    const procs = [...this.procs.values()].filter((p) => p.state === 'running');
    for (const p of procs) p.child.kill('SIGTERM');
    const timer = setTimeout(() => procs.forEach((p) => p.state === 'running' && p.child.kill('SIGKILL')), graceMs);
    await Promise.all(procs.map((p) => p.exited));
    clearTimeout(timer);
  }

  /** killAll: SIGKILL every running node; resolves when all exited. */
  async killAll() {
    const procs = [...this.procs.values()].filter((p) => p.state === 'running');
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
  }
}

/** rssOf: VmRSS and VmHWM (peak) of a pid in MiB, from /proc (null when gone). */
function rssOf(pid) {
  try {
    const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, peakMiB: Math.round(kb('VmHWM') / 102.4) / 10 };
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** pollUntil calls `fn` every `everyMs` until it returns a truthy value (resolved with it) or timeoutMs passes (null). */
async function pollUntil(fn, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

module.exports = { NodeSet, rssOf, sleep, pollUntil, ROOT };
