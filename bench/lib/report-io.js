'use strict';
// What every bench prints and writes: machine facts, versions, the load
// average, and one JSON file per run under bench/results/ (smoke runs under
// bench/results/smoke/, which the report ignores).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const RESULTS = path.join(ROOT, 'bench/results');

const git = (...args) => {
  try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; }
};

/** pkgVersion: an installed package's version (read from disk: some packages do not export package.json). */
function pkgVersion(name) {
  try { return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version; } catch { return 'unknown'; }
}

/** machineFacts: node, CPUs, memory, load average, versions of redis/bullmq/ioredis/node-cron, git commit and dirtiness. */
function machineFacts(redisVersion) {
  return {
    node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model, totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), redis: redisVersion,
    ...(process.env.BENCH_REDIS_ARGS ? { redisArgs: process.env.BENCH_REDIS_ARGS } : {}),
    bullmq: pkgVersion('bullmq'), ioredis: pkgVersion('ioredis'),
    nodeCron: pkgVersion('node-cron'),
    commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', 'apps', 'libs') !== '',
  };
}

/** writeResult writes `result` as bench/results/[smoke/]<name>-<time>.json and returns the path. */
function writeResult(name, result, { smoke }) {
  const dir = smoke ? path.join(RESULTS, 'smoke') : RESULTS;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${result.at.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** latestResult: the newest bench/results/<name>-*.json (parsed), or null. */
function latestResult(name, dir = RESULTS) {
  if (!fs.existsSync(dir)) return null;
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json')).sort();
  for (const f of files.reverse()) {
    const data = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    if (!data.bench || data.bench === name) return { file: path.join(dir, f), data };
  }
  return null;
}

/** table renders rows (arrays of cells) under `head` as aligned plain text. */
function table(head, rows) {
  const all = [head, ...rows].map((r) => r.map((c) => String(c ?? '–')));
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

const round = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

module.exports = { ROOT, RESULTS, machineFacts, writeResult, latestResult, table, round };
