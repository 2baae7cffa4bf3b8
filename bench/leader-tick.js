'use strict';
// Bench 2: the leader's live path. N schedules share `*/1 * * * * *`; a
// LeaderScheduler leads with a fake leadership (the lease is SET in Redis and
// the same value handed over). Lag = the EnqueuedTick's enqueuedAtMs (after
// its batch's EXEC) minus its scheduled instant, from the `schedule.fired` events.
const { Redis } = require('ioredis');
const current = require('@lib/scheduling');
const { LEASE, makeSpecs, openDeployment } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');

async function createAll(store, specs) {
  for (let i = 0; i < specs.length; i += 500) await Promise.all(specs.slice(i, i + 500).map((s) => store.create(s)));
}

/** runTickBench: lag p50/p99/max of every tick, and per instant the lag of its last job, over `seconds`. */
async function runTickBench({ url, n, seconds, batchSize, scheduling, label = 'current', log }) {
  const prefix = 'bench-tick';
  const dep = await openDeployment(url, prefix, { batchSize });
  const { LeaderScheduler, ScheduleStore, FencedEnqueuer } = scheduling;
  const enqueuer = scheduling === current ? dep.enqueuer
    : new FencedEnqueuer({ redis: dep.fencedConn, queue: dep.enqueuer.queue, prefix });
  const subscriber = new Redis(url, { maxRetriesPerRequest: null });
  await dep.reset();
  const store = new ScheduleStore({ redis: dep.admin, prefix });
  await createAll(store, makeSpecs(n));
  const fired = [];
  const logger = { log: (_level, event, _msg, facts) => { if (event === 'schedule.fired') fired.push(facts); } };
  const fencedOff = [];
  const scheduler = new LeaderScheduler({ store, enqueuer, logger, subscriber,
    onFencedOff: (reason) => fencedOff.push(reason) });
  const controller = new AbortController();
  const startedAtMs = Date.now();
  const leading = scheduler.lead({ token: 1, leaseValue: LEASE, signal: controller.signal, isValid: () => true });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  controller.abort();
  await leading;
  // lead() may resolve before a batch in flight settles; an empty call queues behind it.
  await enqueuer.enqueueTicks({ leaseValue: LEASE, fencingToken: 1, rev: 0 }, []);
  subscriber.disconnect();
  try {
    return summarizeTicks({ label, fired, n, startedAtMs, fencedOff, jobCount: await dep.rawQueue.getWaitingCount(), log });
  } finally {
    await dep.close();
  }
}

function summarizeTicks({ label, fired, n, startedAtMs, fencedOff, jobCount, log }) {
  // The first live instant after the start (its second may have begun before the schedules existed) is warm-up.
  const firstFull = Math.ceil(startedAtMs / 1000) * 1000 + 1000;
  const byInstant = new Map();
  for (const f of fired) {
    const at = Date.parse(f.scheduledFor);
    if (at < firstFull) continue;
    const entry = byInstant.get(at) ?? { count: 0, lags: [] };
    entry.count++;
    entry.lags.push(f.lagMs);
    byInstant.set(at, entry);
  }
  const complete = [...byInstant.entries()].filter(([, e]) => e.count === n);
  const tickLags = complete.flatMap(([, e]) => e.lags);
  const lastJobLags = complete.map(([, e]) => Math.max(...e.lags));
  const ids = new Set(fired.map((f) => f.jobId));
  const result = {
    label, schedules: n, instants: complete.length, incompleteInstants: byInstant.size - complete.length,
    firedTotal: fired.length, duplicateFired: fired.length - ids.size, jobsInQueue: jobCount, fencedOff,
    tickLagMs: tickLags.length ? summarize(tickLags) : null,
    lastJobOfInstantLagMs: lastJobLags.length ? summarize(lastJobLags) : null,
    lastJobLagByInstantMs: complete.sort(([a], [b]) => a - b).map(([, e]) => Math.max(...e.lags)),
  };
  log(`tick ${label} N=${n}: ${result.instants} full instants (${result.incompleteInstants} incomplete), ` +
    `tick lag p50 ${result.tickLagMs?.median} ms p99 ${result.tickLagMs?.p99} ms max ${result.tickLagMs?.max} ms; ` +
    `last job of an instant p50 ${result.lastJobOfInstantLagMs?.median} ms max ${result.lastJobOfInstantLagMs?.max} ms ` +
    `(by instant: ${result.lastJobLagByInstantMs.join(' ')}); ` +
    `fired ${result.firedTotal}, duplicates ${result.duplicateFired}, jobs ${jobCount}`);
  return result;
}

module.exports = { runTickBench };
