'use strict';
// Shared fixtures of the benches: schedules, the lease, queues and Redis time.
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { batonKeys, tickJobId } = require('@lib/common');
const { FencedEnqueuer, fencedConnectionOptions, validateScheduleInput, jobOptions } = require('@lib/scheduling');

const LEASE = '1:bench-node';

/** makeSpecs: n valid every-second schedules `s-00000`.. of the `log` handler. */
function makeSpecs(n, cron = '*/1 * * * * *') {
  return Array.from({ length: n }, (_, i) => {
    const r = validateScheduleInput({ name: `s-${String(i).padStart(5, '0')}`, cron, handler: 'log', data: { i } },
      { handlers: new Set(['log']) });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  });
}

/** rawJobs: the addBulk entries equal (id, name, data, options) to what the enqueuer writes for `specs` at `atMs`. */
function rawJobs(specs, atMs) {
  return specs.map((spec) => {
    const jobId = tickJobId(spec.name, atMs);
    return {
      name: spec.name,
      data: { schedule: spec.name, handler: spec.handler, scheduledFor: new Date(atMs).toISOString(), fencingToken: 1,
        payload: spec.data ?? null, timeoutMs: spec.timeoutMs, trigger: 'cron' },
      opts: jobOptions(spec, jobId),
    };
  });
}

/** openDeployment: an admin client, a raw queue and a FencedEnqueuer (own connection) under `prefix`. */
async function openDeployment(url, prefix, { batchSize, baseline } = {}) {
  const keys = batonKeys(prefix);
  const admin = new Redis(url, { maxRetriesPerRequest: null });
  const rawConn = new Redis(url, { maxRetriesPerRequest: null });
  const fencedConn = new Redis(url, fencedConnectionOptions);
  const rawQueue = new Queue(keys.queueName, { connection: rawConn, prefix: keys.tag });
  const fencedQueue = new Queue(keys.queueName, { connection: fencedConn, prefix: keys.tag });
  const enqueuer = new FencedEnqueuer({ redis: fencedConn, queue: fencedQueue, prefix, batchSize, promoter: admin }); // as a node does
  // The baseline enqueuer (BENCH_BASELINE) gets its own connection and queue, like the current one.
  const baseConn = baseline && new Redis(url, fencedConnectionOptions);
  const baseQueue = baseline && new Queue(keys.queueName, { connection: baseConn, prefix: keys.tag });
  const baseEnqueuer = baseline && new baseline.scheduling.FencedEnqueuer({ redis: baseConn, queue: baseQueue, prefix });
  await Promise.all([rawQueue.waitUntilReady(), fencedQueue.waitUntilReady(), baseQueue?.waitUntilReady()]);
  return {
    keys, admin, rawQueue, enqueuer, baseEnqueuer, fencedConn,
    /** reset: wipe the data set and hold the lease again (rev 1). */
    async reset() {
      await admin.flushall('SYNC');
      await admin.set(keys.leader, LEASE, 'PX', 600_000);
      await admin.set(keys.schedulesRev, '1');
    },
    async close() {
      await enqueuer.close();
      await baseEnqueuer?.close();
      await rawQueue.close();
      await Promise.all([admin.quit(), rawConn.quit(), fencedConn.quit(), baseConn?.quit()]);
    },
  };
}

/** redisCpuMs: CPU time (user + sys, ms) Redis's main thread has used so far; take deltas. */
async function redisCpuMs(admin) {
  const info = await admin.info('cpu');
  const read = (field) => Number(new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (read('used_cpu_user_main_thread') + read('used_cpu_sys_main_thread')) * 1000;
}

/** redisCalls: calls per command since the last CONFIG RESETSTAT (commands run by Lua and inside MULTI count too). */
async function redisCalls(admin) {
  const info = await admin.info('commandstats');
  const calls = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config)/.test(m[1])) calls[m[1]] = Number(m[2]);
  return calls;
}

module.exports = { LEASE, makeSpecs, rawJobs, openDeployment, redisCpuMs, redisCalls };
