'use strict';
// Bench 1: N jobs due at one instant. `raw` is bullmq's queue.addBulk of the
// same N jobs (ids, data, options); `fenced` is FencedEnqueuer.enqueueTicks
// (one fenced writeTicks call per batch: lease, revision, cursors, jobs);
// `baseline` (with BENCH_BASELINE=<git ref>) is the FencedEnqueuer of that ref.
// Each variant runs `warmup` + `reps` times on a wiped data set; the order
// rotates so drift on the shared machine hits all alike.
const { performance } = require('node:perf_hooks');
const { LEASE, makeSpecs, rawJobs, openDeployment, redisCpuMs, redisCalls } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');

const T0 = Date.parse('2026-01-01T00:00:00Z');

async function timeOnce(dep, variant, specs, atMs) {
  await dep.reset();
  await dep.admin.config('RESETSTAT');
  const cpuBefore = await redisCpuMs(dep.admin);
  const nodeBefore = process.cpuUsage();
  const start = performance.now();
  if (variant === 'raw') {
    await dep.rawQueue.addBulk(rawJobs(specs, atMs));
  } else {
    const enqueuer = variant === 'fenced' ? dep.enqueuer : dep.baseEnqueuer;
    const result = await enqueuer.enqueueTicks({ leaseValue: LEASE, fencingToken: 1, rev: 1 },
      specs.map((spec) => ({ spec, fireAtMs: atMs })));
    if (result.enqueued.length !== specs.length) throw new Error(`fenced enqueued ${result.enqueued.length} of ${specs.length}`);
  }
  const ms = performance.now() - start;
  const nodeCpu = process.cpuUsage(nodeBefore);
  const nodeMs = (nodeCpu.user + nodeCpu.system) / 1000;
  const redisMs = (await redisCpuMs(dep.admin)) - cpuBefore;
  const waiting = await dep.rawQueue.getWaitingCount();
  if (waiting !== specs.length) throw new Error(`${variant}: ${waiting} jobs waiting, expected ${specs.length}`);
  return { ms, nodeMs, redisMs, calls: await redisCalls(dep.admin) };
}

/** runEnqueueBench: for each N, median/p99/max of raw and fenced and their ratio. */
async function runEnqueueBench({ url, sizes, reps, warmup, batchSize, baseline, log }) {
  const dep = await openDeployment(url, 'bench-enq', { batchSize, baseline });
  const variants = baseline ? ['raw', 'fenced', 'baseline'] : ['raw', 'fenced'];
  const out = [];
  try {
    for (const n of sizes) {
      const specs = makeSpecs(n);
      const samples = Object.fromEntries(variants.map((v) => [v, []]));
      let calls;
      for (let i = 0; i < warmup + reps; i++) {
        const order = [...variants.slice(i % variants.length), ...variants.slice(0, i % variants.length)];
        for (const variant of order) {
          const s = await timeOnce(dep, variant, specs, T0 + i * 1000);
          if (i >= warmup) samples[variant].push(s);
          if (variant === 'fenced') calls = s.calls;
        }
      }
      const row = { n, reps, warmup };
      for (const v of variants) {
        row[v] = { wallMs: summarize(samples[v].map((s) => s.ms)), nodeCpuMs: summarize(samples[v].map((s) => s.nodeMs)),
          redisCpuMs: summarize(samples[v].map((s) => s.redisMs)) };
      }
      row.ratioMedian = Math.round((row.fenced.wallMs.median / row.raw.wallMs.median) * 100) / 100;
      if (baseline) row.ratioBaselineMedian = Math.round((row.baseline.wallMs.median / row.raw.wallMs.median) * 100) / 100;
      row.fencedRedisCalls = calls;
      out.push(row);
      log(`N=${n}: raw median ${row.raw.wallMs.median} ms (p99 ${row.raw.wallMs.p99}, max ${row.raw.wallMs.max}); ` +
        `fenced median ${row.fenced.wallMs.median} ms (p99 ${row.fenced.wallMs.p99}, max ${row.fenced.wallMs.max}); ` +
        `fenced/raw ${row.ratioMedian}x; CPU median node+redis: raw ${row.raw.nodeCpuMs.median}+${row.raw.redisCpuMs.median} ms, ` +
        `fenced ${row.fenced.nodeCpuMs.median}+${row.fenced.redisCpuMs.median} ms`);
      if (baseline) {
        log(`N=${n}: baseline ${baseline.ref} median ${row.baseline.wallMs.median} ms (p99 ${row.baseline.wallMs.p99}, ` +
          `max ${row.baseline.wallMs.max}); baseline/raw ${row.ratioBaselineMedian}x; ` +
          `CPU median node+redis ${row.baseline.nodeCpuMs.median}+${row.baseline.redisCpuMs.median} ms`);
      }
    }
  } finally {
    await dep.close();
  }
  return out;
}

const env = (name, dflt) => process.env[name] ?? dflt;

/**
 * run (`npm run bench -- enqueue`): the enqueue bench plus the leader-tick
 * bench (bench/leader-tick.js) on a private redis-server. Env: BENCH_SIZES
 * (1000,10000), BENCH_REPS (7), BENCH_WARMUP (2), BENCH_TICK_N (10000),
 * BENCH_TICK_SECONDS (10), BENCH_BATCH, BENCH_BASELINE (a git ref).
 */
async function run({ smoke, log }) {
  const { startRedisServer } = require('./lib/redis-server');
  const { runTickBench } = require('./leader-tick');
  const { loadBaselineScheduling } = require('./lib/baseline');
  const config = smoke
    ? { sizes: [100], reps: 1, warmup: 0, tickSchedules: 100, tickSeconds: 2 }
    : {
      sizes: env('BENCH_SIZES', '1000,10000').split(',').filter(Boolean).map(Number),
      reps: Number(env('BENCH_REPS', 7)), warmup: Number(env('BENCH_WARMUP', 2)),
      tickSchedules: Number(env('BENCH_TICK_N', 10000)), tickSeconds: Number(env('BENCH_TICK_SECONDS', 10)),
    };
  config.batchSize = process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined;
  config.baseline = process.env.BENCH_BASELINE || undefined;
  log(`config ${JSON.stringify(config)}`);
  const server = await startRedisServer();
  const baseline = loadBaselineScheduling(config.baseline);
  try {
    const enqueue = await runEnqueueBench({ url: server.url, ...config, baseline, log });
    const tick = [];
    const tickRuns = [{ label: 'current', scheduling: require('@lib/scheduling') }];
    if (baseline) tickRuns.unshift({ label: `baseline ${baseline.ref}`, scheduling: baseline.scheduling });
    for (const r of config.tickSeconds > 0 ? tickRuns : []) {
      tick.push(await runTickBench({ url: server.url, n: config.tickSchedules, seconds: config.tickSeconds,
        batchSize: config.batchSize, ...r, log }));
    }
    return { config, enqueue, tick };
  } finally {
    await server.stop();
    baseline?.cleanup();
  }
}

module.exports = { runEnqueueBench, run };
