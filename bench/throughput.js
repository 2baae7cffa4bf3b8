'use strict';
// throughput: N jobs already waiting in the queue (Baton's job shape, a no-op
// handler), then drained by one worker in this process: Baton's BatonWorker
// (handler registry, attempt timeouts and logs around BullMQ) versus a raw BullMQ Worker
// with the same concurrency, lock duration and stalled interval, on the same
// redis-server, in alternating order. Rate = N ÷ (time from the worker's start
// until Redis counts N completed jobs). Also CPU per job: this process
// (the worker) and Redis's main thread, and Redis commands per job.
const { performance } = require('node:perf_hooks');
const { Redis } = require('ioredis');
const { Queue, Worker } = require('bullmq');
const { batonKeys, silentLogger } = require('@lib/common');
const { BatonWorker, HandlerRegistry } = require('@lib/worker');
const { startRedisServer } = require('./lib/redis-server');
const { makeSpecs, rawJobs, redisCpuMs } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');
const { pollUntil } = require('./lib/nodes');
const { table, round } = require('./lib/report-io');

const PREFIX = 'tp';
const keys = batonKeys(PREFIX);

async function fill(url, admin, n) {
  await admin.flushall('SYNC');
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(keys.queueName, { connection: conn, prefix: keys.tag });
  const jobs = rawJobs(makeSpecs(n), Date.UTC(2026, 0, 1)).map((j) => ({ ...j, data: { ...j.data, handler: 'noop' } }));
  for (let i = 0; i < jobs.length; i += 5000) await queue.addBulk(jobs.slice(i, i + 5000));
  await queue.close();
  conn.disconnect();
}

function startWorker(variant, url, cfg) {
  if (variant === 'raw') {
    const worker = new Worker(keys.queueName, async () => undefined, { connection: { url, maxRetriesPerRequest: null },
      prefix: keys.tag, concurrency: cfg.concurrency, lockDuration: cfg.lockMs, stalledInterval: cfg.stalledMs });
    return { ready: worker.waitUntilReady(), close: () => worker.close() };
  }
  const registry = new HandlerRegistry();
  registry.register('noop', () => undefined);
  const worker = new BatonWorker({ connection: url, prefix: PREFIX, nodeId: 'bench', concurrency: cfg.concurrency, registry,
    logger: silentLogger, lockDurationMs: cfg.lockMs, stalledIntervalMs: cfg.stalledMs });
  return { ready: worker.start(), close: () => worker.close(0) };
}

async function calls(admin) {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config|zcard)/.test(m[1])) total += Number(m[2]);
  return total;
}

async function timeOnce(variant, url, admin, cfg) {
  await fill(url, admin, cfg.jobs);
  await admin.config('RESETSTAT');
  const redis0 = await redisCpuMs(admin);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = startWorker(variant, url, cfg);
  await worker.ready;
  const done = await pollUntil(async () => (await admin.zcard(`${keys.tag}:${keys.queueName}:completed`)) >= cfg.jobs, 300_000, 10);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const redisMs = (await redisCpuMs(admin)) - redis0;
  const commands = await calls(admin);
  await worker.close();
  if (!done) throw new Error(`${variant}: ${cfg.jobs} jobs did not complete within 300 s`);
  return { ms, perSecond: cfg.jobs / (ms / 1000), workerCpuUsPerJob: ((cpu.user + cpu.system) / cfg.jobs),
    redisCpuUsPerJob: (redisMs * 1000) / cfg.jobs, redisCommandsPerJob: commands / cfg.jobs };
}

/** run (`npm run bench -- throughput`). Env: BENCH_THROUGHPUT_JOBS (50000), BENCH_THROUGHPUT_REPS (11). */
async function run({ smoke, log }) {
  const env = process.env;
  const config = smoke ? { jobs: 500, reps: 1 }
    : { jobs: Number(env.BENCH_THROUGHPUT_JOBS ?? 50_000), reps: Number(env.BENCH_THROUGHPUT_REPS ?? 11) };
  config.variants = ['raw', 'baton'];
  Object.assign(config, { concurrency: 10, lockMs: 10_000, stalledMs: 5000, handler: 'no-op', worker: 'in the bench process' });
  log(`config ${JSON.stringify(config)}`);
  const server = await startRedisServer();
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  const samples = Object.fromEntries(config.variants.map((v) => [v, []]));
  try {
    for (let i = 0; i < config.reps; i++) {
      const k = i % config.variants.length;
      for (const variant of [...config.variants.slice(k), ...config.variants.slice(0, k)]) {
        const s = await timeOnce(variant, server.url, admin, config);
        samples[variant].push(s);
        log(`rep ${i + 1} ${variant}: ${config.jobs} jobs in ${Math.round(s.ms)} ms = ${Math.round(s.perSecond)}/s; ` +
          `per job: worker CPU ${round(s.workerCpuUsPerJob)} µs, Redis CPU ${round(s.redisCpuUsPerJob)} µs, ${round(s.redisCommandsPerJob)} Redis commands`);
      }
    }
  } finally {
    admin.disconnect();
    await server.stop();
  }
  const agg = (v) => ({ perSecond: summarize(samples[v].map((s) => s.perSecond)),
    workerCpuUsPerJob: summarize(samples[v].map((s) => s.workerCpuUsPerJob)),
    redisCpuUsPerJob: summarize(samples[v].map((s) => s.redisCpuUsPerJob)),
    redisCommandsPerJob: summarize(samples[v].map((s) => s.redisCommandsPerJob)) });
  const result = { ...Object.fromEntries(config.variants.map((v) => [v, agg(v)])), samples };
  result.ratioMedian = round(result.baton.perSecond.median / result.raw.perSecond.median, 3);
  // The machine's speed drifts by tens of per cent within minutes; each repetition runs both workers back to back,
  // so the ratio within a repetition cancels that drift: the median of those is the judged figure.
  result.pairedRatios = samples.baton.map((b, i) => round(b.perSecond / samples.raw[i].perSecond, 3));
  result.ratioPaired = summarize(result.pairedRatios);
  log(table(['worker', 'jobs/s p50', 'min', 'max', 'worker CPU µs/job', 'Redis CPU µs/job', 'Redis cmds/job'],
    config.variants.map((v) => [v, Math.round(result[v].perSecond.median), Math.round(result[v].perSecond.min),
      Math.round(result[v].perSecond.max), result[v].workerCpuUsPerJob.median, result[v].redisCpuUsPerJob.median,
      result[v].redisCommandsPerJob.median])));
  const sortedRatios = [...result.pairedRatios].sort((a, b) => a - b);
  log(`Baton / raw BullMQ throughput, median of the per-repetition ratios: ${sortedRatios[Math.ceil(sortedRatios.length / 2) - 1]} ` +
    `(${result.pairedRatios.join(', ')}; ratio of the medians ${result.ratioMedian}; target ≥ 0.95)`);
  return { config, ...result };
}

module.exports = { run };
