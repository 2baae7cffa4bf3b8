'use strict';
// The floor Redis sets for enqueueing N jobs at one instant: bullmq's own
// queue.addBulk of the same N jobs (ids, data, options as Baton's), timed on
// an otherwise idle server. Call it before a run starts anything else on that
// server: it FLUSHALLs afterwards.
const { performance } = require('node:perf_hooks');
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { rawJobs } = require('./fixtures');
const { summarize } = require('./stats');

/** measureAddBulkFloor: one untimed then `reps` timed addBulk of `specs`' jobs; {medianMs, p99Ms, maxMs, perSecond}. */
async function measureAddBulkFloor(url, specs, reps) {
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection: conn, prefix: '{floor}' });
  const samples = [];
  try {
    await queue.waitUntilReady();
    for (let i = 0; i <= reps; i++) {
      const jobs = rawJobs(specs, Date.UTC(2026, 0, 1) + i * 1000);
      const t0 = performance.now();
      await queue.addBulk(jobs);
      if (i > 0) samples.push(performance.now() - t0);
    }
    await conn.flushall('SYNC');
  } finally {
    await queue.close();
    conn.disconnect();
  }
  const s = summarize(samples);
  return { n: specs.length, reps, medianMs: s.median, p99Ms: s.p99, maxMs: s.max, perSecond: Math.round(specs.length / (s.median / 1000)) };
}

module.exports = { measureAddBulkFloor };
