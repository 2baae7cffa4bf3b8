#!/usr/bin/env node
'use strict';
// Baton benchmark suite: one entry point.
//   npm run bench -- <name> [--smoke]     one benchmark
//   npm run bench -- all [--smoke]        all of them, then `node bench/report.js`
// Names: enqueue, failover, firelag, throughput, coordination, scale.
// Every benchmark starts its own redis-server on a free loopback port and its
// own node processes, prints config, versions, machine facts and its tables,
// writes bench/results/<name>-<time>.json and stops everything it started.
// --smoke: tiny sizes, nothing timed or judged; results go to
// bench/results/smoke/ and the report is written to a temp dir (CI keeps the
// suite from rotting with `npm run bench -- all --smoke`).
require('./lib/register');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { machineFacts, writeResult } = require('./lib/report-io');

const BENCHES = {
  enqueue: './enqueue',
  failover: './failover',
  firelag: './firelag',
  throughput: './throughput',
  coordination: './coordination',
  scale: './scale',
};

const log = (msg) => process.stdout.write(`${msg}\n`);
const usage = () => `usage: npm run bench -- <${Object.keys(BENCHES).join('|')}|all> [--smoke]`;

function redisVersion() {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

async function runOne(name, smoke) {
  const started = Date.now();
  const machine = machineFacts(redisVersion());
  log(`\n=== ${name}${smoke ? ' (smoke: tiny sizes, not a measurement)' : ''} ===`);
  log(`machine ${JSON.stringify(machine)}`);
  const out = await require(BENCHES[name]).run({ smoke, log });
  const result = { bench: name, at: new Date(started).toISOString(), smoke, machine, ...out,
    loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100), durationS: Math.round((Date.now() - started) / 1000) };
  const file = writeResult(name, result, { smoke });
  log(`${name}: load average before ${machine.loadavg.join(' ')}, after ${result.loadavgAfter.join(' ')}; took ${result.durationS} s`);
  log(`wrote ${path.relative(process.cwd(), file)}`);
  return result;
}

async function main() {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const names = args.filter((a) => !a.startsWith('--'));
  if (names.length === 0) names.push('enqueue'); // `npm run bench` alone: the historic enqueue bench
  const selected = names.includes('all') ? Object.keys(BENCHES) : names;
  const unknown = selected.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; ${usage()}`);
  for (const name of selected) await runOne(name, smoke);
  if (names.includes('all')) {
    const outDir = smoke ? require('node:fs').mkdtempSync(path.join(os.tmpdir(), 'baton-bench-report-')) : undefined;
    require('./report').writeReport({ smoke, outDir, log });
    if (outDir) require('node:fs').rmSync(outDir, { recursive: true, force: true });
  }
}

process.once('SIGINT', () => process.exit(130)); // the exit hooks kill every redis-server and node started here
process.once('SIGTERM', () => process.exit(143));
main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
