'use strict';
// throughput: Baton's BatonWorker (handler registry, attempt timeouts and
// logs around BullMQ) versus a raw BullMQ Worker with the same concurrency,
// lock duration and stalled interval, both in this process, each on its own
// queue of N waiting jobs (Baton's job shape, a no-op handler) on one
// redis-server. The two workers take turns in short slices (one runs, the
// other is paused: BullMQ's pause/resume for the raw worker, limitConcurrency(0) /
// limitConcurrency(n) for Baton's, which takes and completes jobs in batches
// of its own, lib/worker's JobPump): this machine's speed
// drifts by tens of per cent from one second to the next (the same worker's
// CPU per job, and Redis's, move together), and whole drains of several
// seconds each caught different weather. A pair of adjacent slices (order
// alternating: raw-baton, baton-raw) gives one Baton/raw rate ratio; the
// judged figure is the median of those. Rate = jobs Redis counts completed in
// the slice ÷ the slice's time (resume until pause returned: every job taken
// has finished). Also CPU per job: this process and Redis's main thread, and
// Redis commands per job, summed over each worker's slices.
const { performance } = require('node:perf_hooks');
const { Redis } = require('ioredis');
const { Queue, Worker } = require('bullmq');
const { batonKeys, silentLogger } = require('@lib/common');
const { BatonWorker, HandlerRegistry } = require('@lib/worker');
const { startRedisServer } = require('./lib/redis-server');
const { makeSpecs, rawJobs, redisCpuMs } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');
const { sleep } = require('./lib/nodes');
const { table, round } = require('./lib/report-io');

const VARIANTS = ['raw', 'baton'];
const keysOf = (variant) => batonKeys(`tp-${variant}`);
const completedKey = (variant) => `${keysOf(variant).tag}:${keysOf(variant).queueName}:completed`;

async function fill(url, variant, n) {
  const keys = keysOf(variant);
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(keys.queueName, { connection: conn, prefix: keys.tag });
  const jobs = rawJobs(makeSpecs(n), Date.UTC(2026, 0, 1)).map((j) => ({ ...j, data: { ...j.data, handler: 'noop' } }));
  for (let i = 0; i < jobs.length; i += 5000) await queue.addBulk(jobs.slice(i, i + 5000));
  await queue.close();
  conn.disconnect();
}

/** startWorker: the variant's worker, started, then paused (it may have run a few jobs), with its resume() and pause() (resolves once the jobs in hand are done). */
async function startWorker(variant, url, cfg) {
  const keys = keysOf(variant);
  if (variant === 'raw') {
    const bull = new Worker(keys.queueName, async () => undefined, { connection: { url, maxRetriesPerRequest: null },
      prefix: keys.tag, concurrency: cfg.concurrency, lockDuration: cfg.lockMs, stalledInterval: cfg.stalledMs });
    await bull.waitUntilReady();
    await bull.pause();
    return { resume: () => bull.resume(), pause: () => bull.pause(), close: () => bull.close() };
  }
  const registry = new HandlerRegistry();
  registry.register('noop', () => undefined);
  const worker = new BatonWorker({ connection: url, prefix: `tp-${variant}`, nodeId: 'bench', concurrency: cfg.concurrency, registry,
    logger: silentLogger, lockDurationMs: cfg.lockMs, stalledIntervalMs: cfg.stalledMs });
  await worker.start();
  const pause = async () => {
    worker.limitConcurrency(0);
    while (worker.runningCount() > 0) await sleep(1);
    await sleep(2); // the last completions' call
  };
  await pause();
  return { resume: () => worker.limitConcurrency(cfg.concurrency), pause, close: () => worker.close(0) };
}

async function calls(admin) {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config|zcard)/.test(m[1])) total += Number(m[2]);
  return total;
}

/** slice: lets `variant` run for about sliceMs, then pauses it and waits for its jobs in hand to finish. */
async function slice(variant, worker, admin, sliceMs) {
  const done0 = await admin.zcard(completedKey(variant));
  const calls0 = await calls(admin);
  const redis0 = await redisCpuMs(admin);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await worker.resume();
  await sleep(sliceMs);
  await worker.pause();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const redisMs = (await redisCpuMs(admin)) - redis0;
  const commands = (await calls(admin)) - calls0;
  const jobs = (await admin.zcard(completedKey(variant))) - done0;
  return { variant, jobs, ms, perSecond: jobs / (ms / 1000), workerCpuUs: cpu.user + cpu.system, redisCpuUs: redisMs * 1000, commands };
}

/** runRound: fills both queues with cfg.jobs jobs and runs slices in pairs while both have enough left for another pair. */
async function runRound(url, admin, cfg, pairs, log) {
  await admin.flushall('SYNC');
  for (const v of VARIANTS) await fill(url, v, cfg.jobs);
  const workers = {};
  for (const v of VARIANTS) workers[v] = await startWorker(v, url, cfg);
  let most = 0;
  const left = async (v) => cfg.jobs - (await admin.zcard(completedKey(v)));
  try {
    while ((await left('raw')) > 2 * most + cfg.concurrency && (await left('baton')) > 2 * most + cfg.concurrency) {
      const order = pairs.length % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      const pair = {};
      for (const v of order) {
        const s = await slice(v, workers[v], admin, cfg.sliceMs);
        pair[v] = s;
        most = Math.max(most, s.jobs);
      }
      pair.ratio = pair.baton.perSecond / pair.raw.perSecond;
      pairs.push(pair);
      log(`pair ${pairs.length} (${order.join(' then ')}): raw ${Math.round(pair.raw.perSecond)}/s, baton ${Math.round(pair.baton.perSecond)}/s, ` +
        `Baton/raw ${round3(pair.ratio)}`);
    }
  } finally {
    for (const v of VARIANTS) await workers[v].close();
  }
}

const round3 = (x) => round(x, 3);

/** run (`npm run bench -- throughput`). Env: BENCH_THROUGHPUT_JOBS (50000 per worker and round), BENCH_THROUGHPUT_ROUNDS (10), BENCH_THROUGHPUT_SLICE_MS (200). */
async function run({ smoke, log }) {
  const env = process.env;
  const config = smoke ? { jobs: 500, rounds: 1, sliceMs: 20 }
    : { jobs: Number(env.BENCH_THROUGHPUT_JOBS ?? 50_000), rounds: Number(env.BENCH_THROUGHPUT_ROUNDS ?? 10),
      sliceMs: Number(env.BENCH_THROUGHPUT_SLICE_MS ?? 200) };
  Object.assign(config, { variants: VARIANTS, concurrency: 10, lockMs: 10_000, stalledMs: 5000, handler: 'no-op',
    worker: 'both in the bench process, taking turns in slices' });
  log(`config ${JSON.stringify(config)}`);
  const server = await startRedisServer();
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  const pairs = [];
  try {
    for (let r = 0; r < config.rounds; r++) await runRound(server.url, admin, config, pairs, log);
  } finally {
    admin.disconnect();
    await server.stop();
  }
  if (pairs.length === 0) throw new Error(`no pair of slices ran: ${config.jobs} jobs per queue are too few for ${config.sliceMs} ms slices`);
  const agg = (v) => {
    const s = pairs.map((p) => p[v]);
    const jobs = s.reduce((a, x) => a + x.jobs, 0);
    const sum = (f) => s.reduce((a, x) => a + x[f], 0);
    return { slices: s.length, jobs, perSecond: summarize(s.map((x) => x.perSecond)), overallPerSecond: Math.round(jobs / (sum('ms') / 1000)),
      workerCpuUsPerJob: round(sum('workerCpuUs') / jobs), redisCpuUsPerJob: round(sum('redisCpuUs') / jobs), redisCommandsPerJob: round(sum('commands') / jobs) };
  };
  const result = Object.fromEntries(VARIANTS.map((v) => [v, agg(v)]));
  result.pairedRatios = pairs.map((p) => round3(p.ratio));
  result.ratioPaired = summarize(result.pairedRatios);
  result.ratioOverall = round3(result.baton.overallPerSecond / result.raw.overallPerSecond);
  result.pairs = pairs.map((p) => Object.fromEntries(VARIANTS.map((v) => [v, { jobs: p[v].jobs, ms: round(p[v].ms) }])));
  log(table(['worker', 'slices', 'jobs', 'jobs/s p50', 'min', 'max', 'overall jobs/s', 'worker CPU µs/job', 'Redis CPU µs/job', 'Redis cmds/job'],
    VARIANTS.map((v) => [v, result[v].slices, result[v].jobs, Math.round(result[v].perSecond.median), Math.round(result[v].perSecond.min),
      Math.round(result[v].perSecond.max), result[v].overallPerSecond, result[v].workerCpuUsPerJob, result[v].redisCpuUsPerJob, result[v].redisCommandsPerJob])));
  log(`Baton / raw BullMQ throughput, median of ${pairs.length} per-pair ratios: ${result.ratioPaired.median} ` +
    `(min ${result.ratioPaired.min}, max ${result.ratioPaired.max}; all jobs over all slice time: ${result.ratioOverall}; target ≥ 0.95)`);
  return { config, ...result };
}

module.exports = { run };
