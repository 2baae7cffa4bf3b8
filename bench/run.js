#!/usr/bin/env node
'use strict';
// Baton enqueue bench: starts a private redis-server on a free loopback port,
// measures raw bullmq addBulk against the fenced enqueue (and, unless
// BENCH_TICK_SECONDS=0, the leader's per-tick lag), prints a summary, writes
// bench/results/<time>.json, stops everything it started and exits.
//   node bench/run.js
// Env: BENCH_SIZES (default 1000,10000), BENCH_REPS (7), BENCH_WARMUP (2),
//      BENCH_TICK_N (10000), BENCH_TICK_SECONDS (10), BENCH_BATCH (the enqueuer's default batch size),
//      BENCH_BASELINE (a git ref: also run libs/scheduling as it was there, e.g. 6310a6b).
require('./lib/register');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startRedisServer } = require('./lib/redis-server');
const { runEnqueueBench } = require('./enqueue');
const { runTickBench } = require('./leader-tick');
const { loadBaselineScheduling } = require('./lib/baseline');

const env = (name, dflt) => process.env[name] ?? dflt;
const config = {
  sizes: env('BENCH_SIZES', '1000,10000').split(',').filter(Boolean).map(Number),
  reps: Number(env('BENCH_REPS', 7)),
  warmup: Number(env('BENCH_WARMUP', 2)),
  tickSchedules: Number(env('BENCH_TICK_N', 10000)),
  tickSeconds: Number(env('BENCH_TICK_SECONDS', 10)),
  batchSize: process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined,
  baseline: process.env.BENCH_BASELINE || undefined,
};
const log = (msg) => process.stdout.write(`${msg}\n`);
const git = (...args) => {
  try { return execFileSync('git', args, { cwd: path.join(__dirname, '..'), encoding: 'utf8' }).trim(); } catch { return 'unknown'; }
};

async function main() {
  const server = await startRedisServer();
  const baseline = loadBaselineScheduling(config.baseline);
  try {
    const machine = {
      node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg(),
      totalMemGiB: Math.round(os.totalmem() / 2 ** 30), redis: server.version,
      bullmq: require('bullmq/package.json').version, ioredis: require('ioredis/package.json').version,
      commit: git('rev-parse', '--short', 'HEAD'), schedulingDirty: git('status', '--porcelain', 'libs/scheduling') !== '',
    };
    log(`config ${JSON.stringify(config)}`);
    log(`machine ${JSON.stringify(machine)}`);
    const enqueue = await runEnqueueBench({ url: server.url, ...config, baseline, log });
    const tick = [];
    const tickRuns = [{ label: 'current', scheduling: require('@lib/scheduling') }];
    if (baseline) tickRuns.unshift({ label: `baseline ${baseline.ref}`, scheduling: baseline.scheduling });
    for (const run of config.tickSeconds > 0 ? tickRuns : []) {
      tick.push(await runTickBench({ url: server.url, n: config.tickSchedules, seconds: config.tickSeconds,
        batchSize: config.batchSize, ...run, log }));
    }
    const result = { at: new Date().toISOString(), config, machine, enqueue, tick };
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `enqueue-${result.at.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${path.relative(process.cwd(), file)}`);
  } finally {
    await server.stop();
    baseline?.cleanup();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
