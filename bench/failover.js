'use strict';
// failover: real node processes; the leader is killed (SIGKILL, "crash") or
// stopped (SIGTERM, "graceful") 100 ms before a tick of an every-second
// schedule is due. Measured from the bench's clock at the signal (same machine
// clock): (a) the new leader's `leader.elected` log line, (b) the moment the
// tick due right after the fault was in the queue, ready to run (its job's
// `waiting` event, Redis's clock): moved there by whoever came first, the new
// leader or, for a tick the old leader had written ahead, a worker. The
// killed node is started again (same id) before the next trial. After each
// lease: lost and doubled ticks of the schedule, from Redis.
const { Redis } = require('ioredis');
const { ScheduleStore } = require('@lib/scheduling');
const { batonKeys } = require('@lib/common');
const { startRedisServer } = require('./lib/redis-server');
const { NodeSet, sleep } = require('./lib/nodes');
const { makeSpecs } = require('./lib/fixtures');
const { summarize } = require('./lib/stats');
const { table } = require('./lib/report-io');
const { readJobEvents } = require('./lib/job-events');

const FAULT_PHASE_MS = 900; // the fault lands 100 ms before the next every-second instant

/** alignPhase sleeps until Date.now() % 1000 === phaseMs. */
const alignPhase = (phaseMs) => sleep((phaseMs - (Date.now() % 1000) + 1000) % 1000);

async function seed(url, prefix) {
  const redis = new Redis(url);
  const store = new ScheduleStore({ redis, prefix });
  const [spec] = makeSpecs(1);
  await store.create({ ...spec, name: 'tick' });
  return redis;
}

/** steadyLeader: the node of the latest leader.elected that is still running, once it fired a tick. */
async function steadyLeader(set, timeoutMs) {
  const elected = await set.waitFor((r) => r.event === 'leader.elected', timeoutMs, 'a first leader');
  let last = elected;
  for (const r of set.records) if (r.event === 'leader.elected') last = r;
  if (!set.running().includes(last.node)) throw new Error(`leader ${last.node} is not running`);
  await set.waitFor((r) => r.event === 'schedule.fired' && r.node === last.node && r.time >= last.time, timeoutMs,
    `${last.node} to fire a tick`);
  return last.node;
}

async function trial(set, kind, lease) {
  const leader = await steadyLeader(set, lease * 3 + 5000);
  await alignPhase(FAULT_PHASE_MS);
  const from = set.records.length;
  const faultAt = set.signal(leader, kind === 'crash' ? 'SIGKILL' : 'SIGTERM');
  const elected = await set.waitFor((r) => r.event === 'leader.elected' && r.node !== leader, lease * 3 + 5000,
    'a new leader', undefined, from);
  await set.waitFor((r) => r.event === 'schedule.fired' && r.node === elected.node && r.time >= elected.time,
    lease + 10_000, 'the new leader\'s first tick', undefined, from);
  await set.procs.get(leader).exited;
  const restartFrom = set.records.length;
  await set.start(leader);
  // the replacement has subscribed and looked at the lease once: it is a follower like the others
  await set.waitFor((r) => r.node === leader && r.event === 'leader.changed', lease * 2 + 2000, `${leader} to follow`, undefined, restartFrom)
    .catch(() => undefined);
  await sleep(200);
  // (b) comes from Redis's event stream once the lease's trials are over (firstTick)
  return { kind, leader, newLeader: elected.node, faultAt, electedMs: elected.time - faultAt,
    firstTickFor: new Date(Math.ceil(faultAt / 1000) * 1000).toISOString(), leaderlessMsLogged: elected.leaderlessMs };
}

/** firstTick: (b) of a trial: when the job of the tick due right after the fault became waiting, and its lag. */
function firstTick(t, jobs) {
  const instant = Date.parse(t.firstTickFor);
  const waiting = jobs.get(`tick@${instant}`)?.waiting;
  if (waiting == null) throw new Error(`the tick of ${t.firstTickFor} (after the ${t.kind} at ${t.faultAt}) never became waiting`);
  return { ...t, firstTickMs: waiting - t.faultAt, firstTickLagMs: waiting - instant };
}

/** tickEvents: one `tick.waiting` event per tick of the schedule (Redis's clock), and who logged it as fired (a leader), if anyone. */
function tickEvents(set, jobs) {
  const firedBy = new Map(set.records.filter((r) => r.event === 'schedule.fired').map((r) => [r.jobId, r.node]));
  return [...jobs].filter(([id, j]) => id.startsWith('tick@') && j.waiting !== null).map(([id, j]) => {
    const instant = Number(id.slice('tick@'.length));
    return { t: j.waiting, node: firedBy.get(id) ?? 'workers', event: 'tick.waiting', lagMs: j.waiting - instant, scheduledFor: new Date(instant).toISOString() };
  });
}

/** tickAudit: instants of schedule `tick` from its first to its last job: missing (lost) and duplicated ones, re-run jobs. */
async function tickAudit(redis, prefix) {
  const keys = batonKeys(prefix);
  const flat = await redis.zrange(keys.runs('tick'), 0, -1, 'WITHSCORES');
  const scores = [];
  for (let i = 1; i < flat.length; i += 2) scores.push(Number(flat[i]));
  scores.sort((a, b) => a - b);
  let lost = 0;
  let doubled = 0;
  for (let i = 1; i < scores.length; i++) {
    if (scores[i] === scores[i - 1]) doubled++;
    else lost += Math.round((scores[i] - scores[i - 1]) / 1000) - 1;
  }
  const p = redis.pipeline();
  for (let i = 0; i < flat.length; i += 2) p.hget(keys.job(flat[i]), 'ats');
  const attempts = (await p.exec()).map(([, v]) => Number(v ?? 0));
  return { ticks: scores.length, lost, doubled, reRun: attempts.filter((a) => a > 1).length };
}

/** timeline: the records around one trial, for the SVG (leadership, signals, ticks with their lag and who moved them to wait). */
function timeline(set, ticks, t, lease, next) {
  const from = t.faultAt - 2500;
  const to = Math.min(t.faultAt + Math.max(lease, 1000) + 2500, next ? next.faultAt - 1 : Infinity); // not into the next trial
  const keep = new Set(['leader.elected', 'node.stopping', 'leader.resigned', 'node.started', 'leader.lost']);
  return {
    kind: t.kind, lease, faultAt: t.faultAt, leader: t.leader, newLeader: t.newLeader, from, to,
    events: [...set.records.filter((r) => keep.has(r.event) && r.time >= from && r.time <= to)
      .map((r) => ({ t: r.time, node: r.node, event: r.event })),
    ...ticks.filter((e) => e.t >= from && e.t <= to)],
  };
}

async function runLease(url, lease, cfg, log) {
  const prefix = `fo${lease}`;
  const redis = await seed(url, prefix);
  const set = new NodeSet({ redisUrl: url, prefix, env: { BATON_LEASE_MS: String(lease), BATON_SHUTDOWN_GRACE_MS: '2000' } });
  try {
    await Promise.all(cfg.nodeIds.map((id) => set.start(id)));
    const raw = [];
    for (const kind of ['crash', 'graceful']) {
      for (let i = 0; i < cfg.trials; i++) raw.push(await trial(set, kind, lease));
    }
    await sleep(1500); // the last trial's ticks reach Redis
    const jobs = await readJobEvents(redis, `${batonKeys(prefix).tag}:${batonKeys(prefix).queueName}`);
    const trials = raw.map((t) => firstTick(t, jobs));
    const ticks = tickEvents(set, jobs);
    const audit = await tickAudit(redis, prefix);
    const rows = {};
    for (const kind of ['crash', 'graceful']) {
      const ts = trials.filter((t) => t.kind === kind);
      rows[kind] = { electedMs: summarize(ts.map((t) => t.electedMs)), leaderlessMs: summarize(ts.map((t) => t.leaderlessMsLogged)),
        firstTickMs: summarize(ts.map((t) => t.firstTickMs)),
        firstTickLagMs: summarize(ts.map((t) => t.firstTickLagMs)) };
    }
    const pictured = (kind) => {
      const i = trials.findIndex((t) => t.kind === kind);
      return timeline(set, ticks, trials[i], lease, trials[i + 1]);
    };
    const out = { lease, ...rows, audit, trials, timelines: [pictured('crash'), pictured('graceful')] };
    log(`lease ${lease} ms: ${cfg.trials} trials each; ticks ${audit.ticks}, lost ${audit.lost}, doubled ${audit.doubled}, re-run ${audit.reRun}`);
    return out;
  } finally {
    await set.killAll();
    redis.disconnect();
  }
}

/** run (`npm run bench -- failover`). Env: BENCH_FAILOVER_LEASES (1000,2000,5000), BENCH_FAILOVER_TRIALS (20). */
async function run({ smoke, log }) {
  const env = process.env;
  const config = smoke
    ? { leases: [1000], trials: 1, nodeIds: ['n1', 'n2'] }
    : { leases: (env.BENCH_FAILOVER_LEASES ?? '1000,2000,5000').split(',').map(Number),
      trials: Number(env.BENCH_FAILOVER_TRIALS ?? 20), nodeIds: ['n1', 'n2', 'n3'] };
  Object.assign(config, { faultPhaseMs: FAULT_PHASE_MS, schedule: '*/1 * * * * *', shutdownGraceMs: 2000,
    clientGo: { leaseDurationS: 15, renewDeadlineS: 10, retryPeriodS: 2, jitterFactor: 1.2 } });
  log(`config ${JSON.stringify(config)}`);
  const server = await startRedisServer();
  const leases = [];
  try {
    for (const lease of config.leases) leases.push(await runLease(server.url, lease, config, log));
  } finally {
    await server.stop();
  }
  const rows = leases.flatMap((l) => ['crash', 'graceful'].map((kind) => {
    const target = kind === 'crash' ? l.lease + 150 : 50;
    return [l.lease, kind, l[kind].electedMs.n, l[kind].electedMs.median, l[kind].electedMs.p99, l[kind].electedMs.max,
      `≤ ${target}`, `${l[kind].leaderlessMs.median} / ${l[kind].leaderlessMs.p99}`, l[kind].firstTickMs.median, l[kind].firstTickMs.p99, l[kind].firstTickLagMs.p99];
  }));
  log(table(['lease ms', 'fault', 'trials', 'elected p50', 'p99', 'max', 'target p99', 'lease end → elected p50 / p99', 'first tick p50', 'p99', 'its lag p99'], rows));
  return { config, leases };
}

module.exports = { run };
