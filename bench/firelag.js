'use strict';
// firelag: N every-second schedules on three real Baton nodes (LOG_LEVEL=warn,
// lease 2 s, BATON_WORKER_CONCURRENCY=10, the `log` handler) versus the same N
// BullMQ Job Schedulers (`upsertJobScheduler(name, { pattern: '* * * * * *' })`)
// run by three plain BullMQ Worker processes, concurrency 10 each, each on its
// own fresh redis-server in the same bench run. After a warm-up (20 s: the
// schedules exist before the nodes start, and Baton's first leader owes every
// instant since; at 10,000 that catch-up took 8-14 s under this load, and a
// 5 s warm-up judged it as steady state), a window of W seconds is judged:
// for every (schedule, instant) in it, enqueue lag = when Redis wrote the
// job's `waiting` event − the instant; handler-start lag = its first
// `active` event (BullMQ's processedOn) − the instant (lib/job-events.js);
// lost = instants with no job (Baton: and none owed, i.e. its cursor is past it; `owed` = a
// backlog not enqueued yet when the run ended); doubled = jobs completed twice; re-run = jobs
// whose handler started twice (a killed worker's job recovered: the job's `ats`, attempts started, is
// above 1); handed back = jobs taken twice but started once (a stopping Baton node gives a job it
// fetched back untouched and takes its attempt back, e.g. when the bench stops the nodes). Mode `kill`: SIGKILL of one
// process in the middle of the window (Baton: the leader; BullMQ: a worker).
// Jobs not started when the drain timed out count with lag = the time waited.
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { batonKeys } = require('@lib/common');
const { ScheduleStore, jobOptions } = require('@lib/scheduling');
const { startRedisServer } = require('./lib/redis-server');
const { NodeSet, sleep, pollUntil } = require('./lib/nodes');
const { makeSpecs } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');
const { raiseEventsCap, readJobEvents } = require('./lib/job-events');
const { measureAddBulkFloor } = require('./lib/floor');
const { table } = require('./lib/report-io');
const { quantiles } = require('./lib/quantiles');

const NODE_IDS = ['n1', 'n2', 'n3'];
const BULL_ENTRY = require.resolve('./lib/bullmq-node');

async function inChunks(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function setupBaton(url, admin, specs, cfg) {
  const prefix = 'fl';
  const keys = batonKeys(prefix);
  const queuePrefix = `${keys.tag}:${keys.queueName}`;
  await raiseEventsCap(admin, queuePrefix);
  const store = new ScheduleStore({ redis: admin, prefix });
  await inChunks(specs, 500, (s) => store.create(s));
  const set = new NodeSet({ redisUrl: url, prefix, env: { LOG_LEVEL: 'warn', BATON_LEASE_MS: String(cfg.leaseMs),
    BATON_WORKER_CONCURRENCY: String(cfg.concurrency), BATON_LEADER_YIELD_LAG_MS: String(cfg.leaderYieldLagMs) } });
  await Promise.all(NODE_IDS.map((id) => set.start(id)));
  await pollUntil(() => admin.get(keys.leader), 10_000);
  return {
    set, queuePrefix,
    victim: async () => String(await admin.get(keys.leader)).replace(/^\d+:/, ''),
    parse: (jobId) => { const at = jobId.lastIndexOf('@'); return at < 0 ? null : { name: jobId.slice(0, at), ms: Number(jobId.slice(at + 1)) }; },
    jobIdOf: (name, ms) => `${name}@${ms}`,
    cursors: async () => new Map(Object.entries(await admin.hgetall(keys.cursor)).map(([k, v]) => [k, Number(v)])),
    terms: async () => Number((await admin.get(keys.term)) ?? 0),
  };
}

async function setupBull(url, admin, specs, cfg) {
  const prefix = '{bmq}';
  const queuePrefix = `${prefix}:jobs`;
  await raiseEventsCap(admin, queuePrefix);
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection: conn, prefix });
  await inChunks(specs, 200, (s) => {
    const { jobId: _id, ...opts } = jobOptions(s, 'unused');
    const data = { schedule: s.name, handler: s.handler, fencingToken: 0, payload: s.data ?? null, timeoutMs: s.timeoutMs, trigger: 'cron' };
    return queue.upsertJobScheduler(s.name, { pattern: '* * * * * *' }, { name: s.name, data, opts });
  });
  await queue.close();
  conn.disconnect();
  const set = new NodeSet({ redisUrl: url, prefix: 'bmq', entry: BULL_ENTRY,
    env: { BENCH_QUEUE: 'jobs', BENCH_PREFIX: prefix, BENCH_CONCURRENCY: String(cfg.concurrency) } });
  await Promise.all(NODE_IDS.map((id) => set.start(id)));
  return {
    set, queuePrefix,
    victim: async () => NODE_IDS[1],
    parse: (jobId) => { const m = /^repeat:(.+):(\d+)$/.exec(jobId); return m ? { name: m[1], ms: Number(m[2]) } : null; },
    jobIdOf: (name, ms) => `repeat:${name}:${ms}`,
    cursors: async () => null, // a Job Scheduler owes nothing: an instant without a job is skipped for good
    terms: async () => 'no',
  };
}

/** drained: no job of an instant before `wEnd` is still waiting (or, for BullMQ, delayed). */
async function drained(admin, setup, wEnd) {
  const oldest = await admin.lindex(`${setup.queuePrefix}:wait`, -1);
  if (oldest && (setup.parse(oldest)?.ms ?? 0) < wEnd) return false;
  const delayed = await admin.zrange(`${setup.queuePrefix}:delayed`, 0, 0, 'WITHSCORES');
  return delayed.length === 0 || Number(delayed[1]) / 0x1000 >= wEnd;
}

/** startedMoreThanOnce: of the jobs taken more than once, those whose `ats` (attempts started) is above 1, or unknown (job gone). */
async function startedMoreThanOnce(admin, queuePrefix, events) {
  const ids = [...events].filter(([, j]) => j.actives > 1).map(([id]) => id);
  const pipeline = admin.pipeline();
  for (const id of ids) pipeline.hget(`${queuePrefix}:${id}`, 'ats');
  const replies = ids.length > 0 ? await pipeline.exec() : [];
  return new Set(ids.filter((_, i) => replies[i][1] === null || Number(replies[i][1]) > 1));
}

/**
 * analyze: every (schedule, instant) of the window. Without a job it is
 * `lost`, unless the schedule's Redis cursor is still before it (Baton only):
 * then it is `owed`, a backlog the leader (or the next one) still enqueues.
 */
function analyze(events, setup, names, cursors, wStart, wEnd, drainEnd, startedTwice) {
  const enqueueLags = [];
  const startLags = [];
  let enqueued = 0; let notStarted = 0; let doubled = 0; let reRun = 0; let handedBack = 0; let lost = 0; let owed = 0;
  const byInstant = new Map(); // instant ms → its ticks' handler-start lags
  for (const name of names) {
    for (let ms = wStart; ms < wEnd; ms += 1000) {
      const j = events.get(setup.jobIdOf(name, ms));
      if (!j || j.added === 0) {
        if (cursors && !(cursors.get(name) >= ms)) owed++;
        else lost++;
        continue;
      }
      enqueued++;
      if (j.waiting !== null) enqueueLags.push(j.waiting - ms);
      const startLag = j.active !== null ? j.active - ms : drainEnd - ms;
      if (j.active === null) notStarted++;
      startLags.push(startLag);
      if (!byInstant.has(ms)) byInstant.set(ms, []);
      byInstant.get(ms).push(startLag);
      if (j.completed > 1) doubled++;
      if (j.actives > 1) {
        if (startedTwice.has(setup.jobIdOf(name, ms))) reRun++;
        else handedBack++;
      }
    }
  }
  return { expected: names.length * ((wEnd - wStart) / 1000), enqueued, lost, owed, doubled, reRun, handedBack, notStarted,
    enqueueLagMs: enqueueLags.length ? summarize(enqueueLags) : null, startLagMs: startLags.length ? summarize(startLags) : null,
    enqueueCdf: quantiles(enqueueLags), startCdf: quantiles(startLags),
    // per instant of the window, in order: its ticks' handler-start lag p50 and max (ms)
    startByInstant: [...byInstant.values()].map((lags) => { const s = summarize(lags); return [Math.round(s.median), Math.round(s.max)]; }) };
}

async function runCase(system, n, mode, cfg, log) {
  const server = await startRedisServer();
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  let setup;
  let capTimer;
  try {
    const specs = makeSpecs(n);
    const floor = system === 'baton' ? await measureAddBulkFloor(server.url, specs, cfg.floorReps) : undefined;
    setup = await (system === 'baton' ? setupBaton : setupBull)(server.url, admin, specs, cfg);
    // Every BullMQ Queue writes its default cap (10,000) into the meta hash when it starts: lift it again, and keep it lifted.
    await raiseEventsCap(admin, setup.queuePrefix);
    capTimer = setInterval(() => void raiseEventsCap(admin, setup.queuePrefix).catch(() => undefined), 500);
    await sleep(cfg.warmupS * 1000);
    const wStart = Math.ceil((Date.now() + 1) / 1000) * 1000;
    const wEnd = wStart + cfg.windowS * 1000;
    let kill;
    if (mode === 'kill') {
      await sleep(wStart + (cfg.windowS * 1000) / 2 - Date.now());
      const victim = await setup.victim();
      kill = { victim, at: setup.set.signal(victim, 'SIGKILL') };
    }
    await sleep(wEnd + 1500 - Date.now());
    await pollUntil(() => drained(admin, setup, wEnd), cfg.drainS * 1000, 100);
    const drainEnd = Date.now();
    await setup.set.stopAll();
    clearInterval(capTimer);
    const [first] = await admin.xrange(`${setup.queuePrefix}:events`, '-', '+', 'COUNT', 1);
    if (!first) throw new Error(`${system} n=${n}: no job was written at all (${await setup.terms()} leadership terms during the run)`);
    if (Number(first[0].split('-')[0]) > wStart) throw new Error(`${system} n=${n}: the events stream was trimmed inside the window`);
    const events = await readJobEvents(admin, setup.queuePrefix);
    const startedTwice = await startedMoreThanOnce(admin, setup.queuePrefix, events);
    const names = specs.map((s) => s.name);
    const out = { system, n, mode, kill, windowStart: wStart, floor, drainedS: Math.round((drainEnd - wEnd) / 100) / 10,
      ...analyze(events, setup, names, await setup.cursors(), wStart, wEnd, drainEnd, startedTwice) };
    log(`${system} n=${n} ${mode}: enqueued ${out.enqueued}/${out.expected}, lost ${out.lost}, still owed ${out.owed}, doubled ${out.doubled}, ` +
      `re-run ${out.reRun}, handed back ${out.handedBack}, not started ${out.notStarted}; enqueue lag p50/p99/max ${fmt(out.enqueueLagMs)} ms; ` +
      `handler-start lag ${fmt(out.startLagMs)} ms${floor ? `; addBulk floor ${floor.medianMs} ms` : ''}`);
    log(`  handler-start lag per instant of the window, p50/max ms: ${out.startByInstant.map(([p50, max]) => `${p50}/${max}`).join(' ')}`);
    return out;
  } finally {
    clearInterval(capTimer);
    await setup?.set.killAll();
    admin.disconnect();
    await server.stop();
  }
}

const fmt = (s) => (s ? `${s.median}/${s.p99}/${s.max}` : '–');

/**
 * run (`npm run bench -- firelag`). Env: BENCH_FIRELAG_SIZES (100,1000,10000), BENCH_FIRELAG_WINDOW_S (30),
 * BENCH_FIRELAG_WARMUP_S (20), BENCH_FIRELAG_MODES (steady,kill), BENCH_FIRELAG_SYSTEMS (baton,bullmq): a subset of the cases;
 * BENCH_FIRELAG_YIELD_LAG_MS: the nodes' BATON_LEADER_YIELD_LAG_MS (0, the default: the leader's worker never yields).
 */
async function run({ smoke, log }) {
  const env = process.env;
  const config = smoke
    ? { sizes: [20], killSizes: [20], killOnly: true, windowS: 2, warmupS: 1, drainS: 3, floorReps: 1 }
    : { sizes: (env.BENCH_FIRELAG_SIZES ?? '100,1000,10000').split(',').map(Number), killSizes: [1000, 10000],
      windowS: Number(env.BENCH_FIRELAG_WINDOW_S ?? 30), warmupS: Number(env.BENCH_FIRELAG_WARMUP_S ?? 20), drainS: 15, floorReps: 3 };
  Object.assign(config, { nodes: NODE_IDS.length, concurrency: 10, leaseMs: 2000, leaderYieldLagMs: Number(env.BENCH_FIRELAG_YIELD_LAG_MS ?? 0), cron: '*/1 * * * * * (BullMQ: * * * * * *)' });
  log(`config ${JSON.stringify(config)}`);
  const cases = [];
  for (const n of config.sizes) {
    const modes = config.killSizes.includes(n) ? ['steady', 'kill'] : ['steady'];
    for (const mode of config.killOnly ? ['kill'] : modes) {
      if (env.BENCH_FIRELAG_MODES && !env.BENCH_FIRELAG_MODES.split(',').includes(mode)) continue;
      for (const system of (env.BENCH_FIRELAG_SYSTEMS ?? 'baton,bullmq').split(',')) {
        try {
          cases.push(await runCase(system, n, mode, config, log));
        } catch (err) { // one broken case must not lose the others' figures
          log(`${system} n=${n} ${mode}: not measured: ${err.message}`);
          cases.push({ system, n, mode, error: err.message });
        }
      }
    }
  }
  const rows = cases.filter((c) => !c.error).map((c) => [c.system, c.n, c.mode, `${c.enqueued}/${c.expected}`, c.lost, c.owed, c.doubled, c.reRun, c.handedBack, c.notStarted,
    fmt(c.enqueueLagMs), fmt(c.startLagMs), c.floor?.medianMs]);
  log(table(['system', 'N', 'mode', 'jobs', 'lost', 'owed', 'doubled', 're-run', 'handed back', 'not started', 'enqueue lag p50/p99/max', 'start lag p50/p99/max', 'floor ms'], rows));
  return { config, cases };
}

module.exports = { run };
