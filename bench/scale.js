'use strict';
// scale: N schedules (`0 * * * * *`, once a minute, the `log` handler)
// stored through ScheduleStore (the store's own format), every cursor set so
// that exactly one tick (the last minute boundary) was missed; then one real
// node starts (LOG_LEVEL=warn) and wins at once. From the instant it won
// (`leader-info.since`), on Redis's clock: `armed` = the first catch-up job is
// in Redis (the first `added` event of the queue's stream: every schedule
// loaded, the cron tasks armed, the catch-up planned), `caught up` = all N
// jobs are in Redis (BullMQ's wait + active + delayed + completed + failed,
// polled every 20 ms; the node's own worker runs them meanwhile). Leader RSS
// when caught up, and its peak (VmHWM) 2 s later.
const { Redis } = require('ioredis');
const { batonKeys } = require('@lib/common');
const { ScheduleStore, validateScheduleInput } = require('@lib/scheduling');
const { startRedisServer } = require('./lib/redis-server');
const { NodeSet, sleep, pollUntil, rssOf } = require('./lib/nodes');
const { summarize } = require('./lib/stats');
const { table } = require('./lib/report-io');

const PREFIX = 'sc';
const keys = batonKeys(PREFIX);
const CRON = '0 * * * * *';

function specsOf(n) {
  return Array.from({ length: n }, (_, i) => {
    const r = validateScheduleInput({ name: `s-${String(i).padStart(6, '0')}`, cron: CRON, handler: 'log', data: { i } },
      { handlers: new Set(['log']) });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  });
}

/** seed stores N schedules once and keeps a DUMP of the hash, so each repetition restores the same data fast. */
async function seed(admin, n) {
  await admin.flushall('SYNC');
  const store = new ScheduleStore({ redis: admin, prefix: PREFIX });
  const specs = specsOf(n);
  const t0 = Date.now();
  for (let i = 0; i < specs.length; i += 1000) await Promise.all(specs.slice(i, i + 1000).map((s) => store.create(s)));
  const seedS = (Date.now() - t0) / 1000;
  const names = specs.map((s) => s.name).sort();
  return { n, names, seedS, dump: await admin.dumpBuffer(keys.schedules), rev: await admin.get(keys.schedulesRev) };
}

/** prepare: a fresh data set with the schedules and cursors one minute behind the last boundary; returns that boundary. */
async function prepare(admin, seeded, guardMs) {
  await admin.flushall('SYNC');
  await admin.restore(keys.schedules, 0, seeded.dump);
  await admin.set(keys.schedulesRev, seeded.rev);
  while (60_000 - (Date.now() % 60_000) < guardMs) await sleep(250); // never let a live tick fall inside the measurement
  const missed = Math.floor(Date.now() / 60_000) * 60_000;
  for (let i = 0; i < seeded.names.length; i += 5000) {
    const fields = {};
    for (const name of seeded.names.slice(i, i + 5000)) fields[name] = String(missed - 60_000);
    await admin.hset(keys.cursor, fields);
  }
  return missed;
}

async function once(url, admin, seeded, guardMs) {
  const missed = await prepare(admin, seeded, guardMs);
  // BENCH_SCALE_PROFILE=<dir>: the leader writes a V8 CPU profile there (it is then stopped with SIGTERM);
  // BENCH_SCALE_NODE_ARGS: more node options for the leader (e.g. `--require ./heap-log.js`).
  const profile = process.env.BENCH_SCALE_PROFILE;
  const extra = (process.env.BENCH_SCALE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const set = new NodeSet({ redisUrl: url, prefix: PREFIX, env: { LOG_LEVEL: 'warn' },
    nodeArgs: [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), ...extra] });
  try {
    const proc = await set.start('n1');
    const wonAt = Number(await pollUntil(() => admin.hget(keys.leaderInfo, 'since'), 30_000, 5));
    const q = `${keys.tag}:${keys.queueName}`;
    // the stream is capped (10,000 entries): its first `added` is read as soon as there is one (idle workers write `drained`)
    const firstEvent = await pollUntil(async () => (await admin.xrange(`${q}:events`, '-', '+', 'COUNT', 100))
      .find(([, fields]) => fields[0] === 'event' && fields[1] === 'added'), 120_000, 5);
    const jobs = async () => {
      const res = await admin.multi().llen(`${q}:wait`).llen(`${q}:active`).zcard(`${q}:delayed`)
        .zcard(`${q}:completed`).zcard(`${q}:failed`).time().exec();
      const [sec, usec] = res[5][1];
      return { count: res.slice(0, 5).reduce((sum, [, v]) => sum + Number(v), 0), atMs: Number(sec) * 1000 + Math.floor(Number(usec) / 1000) };
    };
    const caughtUp = await pollUntil(async () => { const j = await jobs(); return j.count >= seeded.n ? j : null; }, 300_000, 20);
    if (!firstEvent || !caughtUp) throw new Error(`n=${seeded.n}: the leader did not catch up in time`);
    const armedAt = Number(firstEvent[0].split('-')[0]);
    const caughtUpAt = caughtUp.atMs;
    const rss = rssOf(proc.pid);
    await sleep(2000);
    const after = rssOf(proc.pid);
    const cursors = await admin.hlen(keys.cursor);
    return { armedMs: armedAt - wonAt, caughtUpMs: caughtUpAt - wonAt, rssMiB: rss?.rssMiB, peakRssMiB: after?.peakMiB, cursors };
  } finally {
    await (profile ? set.stopAll(30_000) : set.killAll());
  }
}

/** run (`npm run bench -- scale`). Env: BENCH_SCALE_SIZES (10000,100000), BENCH_SCALE_REPS (3). */
async function run({ smoke, log }) {
  const env = process.env;
  // guardMs: the measurement (~12 s) and the next minute's write-ahead (6.5 s at the default lease) stay clear of a boundary
  const config = smoke ? { sizes: [200], reps: 1, guardMs: 0 }
    : { sizes: (env.BENCH_SCALE_SIZES ?? '10000,100000').split(',').map(Number), reps: Number(env.BENCH_SCALE_REPS ?? 3), guardMs: 20_000 };
  Object.assign(config, { cron: CRON, missedTicksEach: 1, nodes: 1, logLevel: 'warn' });
  log(`config ${JSON.stringify(config)}`);
  const server = await startRedisServer();
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  const results = [];
  try {
    for (const n of config.sizes) {
      const seeded = await seed(admin, n);
      const reps = [];
      for (let i = 0; i < config.reps; i++) {
        const r = await once(server.url, admin, seeded, config.guardMs);
        reps.push(r);
        log(`n=${n} rep ${i + 1}: armed ${r.armedMs} ms, caught up (${n} jobs) ${r.caughtUpMs} ms after winning; RSS ${r.rssMiB} MiB, peak ${r.peakRssMiB} MiB`);
      }
      results.push({ n, seedS: seeded.seedS, armedMs: summarize(reps.map((r) => r.armedMs)),
        caughtUpMs: summarize(reps.map((r) => r.caughtUpMs)), rssMiB: summarize(reps.map((r) => r.rssMiB)),
        peakRssMiB: summarize(reps.map((r) => r.peakRssMiB)), reps });
    }
  } finally {
    admin.disconnect();
    await server.stop();
  }
  log(table(['schedules', 'armed p50 ms', 'max', 'caught up p50 ms', 'max', 'RSS MiB p50', 'peak RSS max', 'target'],
    results.map((r) => [r.n, r.armedMs.median, r.armedMs.max, r.caughtUpMs.median, r.caughtUpMs.max, r.rssMiB.median,
      r.peakRssMiB.max, r.n >= 100_000 ? 'armed ≤ 2000 ms, RSS ≤ 300 MB' : '–'])));
  return { config, results };
}

module.exports = { run };
