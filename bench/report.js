#!/usr/bin/env node
'use strict';
// Writes docs/BENCHMARKS.md, docs/bench-failover.svg and docs/bench-firelag.svg
// from the newest bench/results/<name>-*.json of each benchmark (run by
// `npm run bench -- all`; by hand: `node bench/report.js`). The analysis of
// misses is bench/NOTES.md, appended as is.
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, RESULTS, latestResult } = require('./lib/report-io');
const { failoverSvg, cdfSvg } = require('./lib/svg');
const { summarize } = require('./lib/stats');

const NAMES = ['failover', 'firelag', 'throughput', 'coordination', 'scale', 'enqueue'];
const md = (head, rows) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.map((c) => (c === null || c === undefined ? '–' : String(c))).join(' | ')} |`)].join('\n');
const verdict = (ok) => (ok === null ? 'n/a' : ok ? '**met**' : '**missed**');
const r1 = (x) => (typeof x === 'number' ? Math.round(x * 10) / 10 : x);

function targetsTable(R) {
  const rows = [];
  for (const l of R.failover?.leases ?? []) {
    rows.push([`crash failover p99, lease ${l.lease} ms`, `≤ ${l.lease + 150} ms`, `${l.crash.electedMs.p99} ms`, verdict(l.crash.electedMs.p99 <= l.lease + 150)]);
    rows.push([`graceful handover p99, lease ${l.lease} ms`, '≤ 50 ms', `${l.graceful.electedMs.p99} ms`, verdict(l.graceful.electedMs.p99 <= 50)]);
  }
  const fl = (sys, n, mode) => R.firelag?.cases.find((c) => c.system === sys && c.n === n && c.mode === mode && !c.error);
  for (const [n, bar] of [[100, 10], [1000, 50]]) {
    const c = fl('baton', n, 'steady');
    if (c) rows.push([`enqueue lag p99, ${n} schedules`, `≤ ${bar} ms`, `${c.enqueueLagMs?.p99} ms`, verdict(c.enqueueLagMs?.p99 <= bar)]);
  }
  const tick = R.enqueue?.tick?.find((t) => t.label === 'current');
  const raw = R.enqueue?.enqueue?.find((e) => e.n === tick?.schedules)?.raw.wallMs.median;
  if (tick?.tickLagMs && raw) {
    rows.push([`enqueue lag p99, ${tick.schedules} schedules, leader alone (\`enqueue\` bench)`, `≤ 1.5 × floor = ${r1(1.5 * raw)} ms (addBulk of ${tick.schedules}: ${raw} ms)`,
      `${tick.tickLagMs.p99} ms`, verdict(tick.tickLagMs.p99 <= 1.5 * raw)]);
  }
  for (const mode of ['steady', 'kill']) {
    const big = fl('baton', 10000, mode);
    if (!big) continue;
    const bar = 1.5 * big.floor.medianMs;
    rows.push([`enqueue lag p99, 10,000 schedules, 3 nodes with workers${mode === 'kill' ? ', one killed' : ''}`,
      `≤ 1.5 × floor = ${r1(bar)} ms (addBulk of 10,000: ${big.floor.medianMs} ms)`, `${big.enqueueLagMs?.p99} ms`, verdict(big.enqueueLagMs?.p99 <= bar)]);
  }
  for (const c of (R.firelag?.cases ?? []).filter((x) => x.system === 'baton' && x.error)) {
    rows.push([`fire lag, Baton ${c.n} ${c.mode}`, 'measured', `not measured: ${c.error}`, '**missed**']);
  }
  for (const c of (R.firelag?.cases ?? []).filter((x) => x.system === 'baton' && !x.error)) {
    const peer = fl('bullmq', c.n, c.mode);
    if (peer?.startLagMs && c.startLagMs) {
      for (const q of ['median', 'p99']) {
        const ratio = c.startLagMs[q] / peer.startLagMs[q];
        rows.push([`handler-start lag ${q === 'median' ? 'p50' : 'p99'} Baton/BullMQ, ${c.n} ${c.mode}`, '≤ 0.5',
          `${r1(ratio)} (${c.startLagMs[q]} vs ${peer.startLagMs[q]} ms)`, verdict(ratio <= 0.5)]);
      }
    }
    rows.push([`lost / doubled ticks, Baton ${c.n} ${c.mode}`, '0 / 0', `${c.lost} / ${c.doubled}${c.owed ? ` (+ ${c.owed} still owed)` : ''}` +
      (peer ? `; BullMQ ${peer.lost} / ${peer.doubled}` : ''), verdict(c.lost === 0 && c.doubled === 0)]);
  }
  if (R.throughput) {
    const judged = R.throughput.ratioPaired.median;
    rows.push(['throughput Baton/raw BullMQ (median of per-pair ratios)', '≥ 0.95', `${judged}`, verdict(judged >= 0.95)]);
  }
  for (const c of R.coordination?.results ?? []) {
    rows.push([`Redis commands/s per idle follower, ${c.nodes} nodes`, '≤ 1', `p50 ${c.followers.median}, max ${c.followers.max}`, verdict(c.followers.max <= 1)]);
  }
  for (const s of R.scale?.results ?? []) {
    if (s.n < 100_000) continue;
    rows.push([`${s.n} schedules armed after winning (max)`, '≤ 2000 ms', `${s.armedMs.max} ms (all ${s.n} caught up: ${s.caughtUpMs.max} ms)`, verdict(s.armedMs.max <= 2000)]);
    rows.push([`leader RSS with ${s.n} schedules (peak)`, '≤ 300 MB', `${s.peakRssMiB.max} MiB`, verdict(s.peakRssMiB.max * 1.048576 <= 300)]);
  }
  return md(['what', 'target', 'measured', ''], rows);
}

function failoverSection(f) {
  const gap = (l, k) => summarize(l.trials.filter((t) => t.kind === k).map((t) => t.leaderlessMsLogged));
  const rows = f.leases.flatMap((l) => ['crash', 'graceful'].map((k) => [l.lease, k, l[k].electedMs.n, l[k].electedMs.median,
    l[k].electedMs.p99, l[k].electedMs.max, `${gap(l, k).median} / ${gap(l, k).p99}`, l[k].firstTickMs.median, l[k].firstTickMs.p99,
    l[k].firstTickLagMs.median, l[k].firstTickLagMs.p99]));
  const audit = f.leases.map((l) => `lease ${l.lease} ms: ${l.audit.ticks} ticks, ${l.audit.lost} lost, ${l.audit.doubled} doubled, ${l.audit.reRun} re-run`).join('; ');
  return ['## Failover', '',
    `Three real node processes, one every-second schedule; the leader is killed (SIGKILL) or stopped (SIGTERM) ${1000 - f.config.faultPhaseMs} ms before a tick is due; ${f.config.trials} trials per row. ` +
    '(a) fault → `leader.elected` on another node; (c) from the end of the old lease (its expiry after a crash, its release after a stop) to the new one, by Redis\'s clock (the `leaderlessMs` of `leader.elected`): how long the nodes took to notice; (b) fault → the tick due right after the fault is in the queue, ready to run (its job\'s `waiting` event, Redis\'s clock; moved there by the new leader, or by a worker when the old leader had written it ahead), and that tick\'s lag. All times in ms. Every tick is written over a lease ahead of its instant (`writeAheadFor(lease)`: 2.5 / 3.5 / 6.5 s), so ticks due during the failover still fire on time; the picture shows which ones the workers moved.', '',
    md(['lease', 'fault', 'trials', '(a) p50', '(a) p99', '(a) max', '(c) p50 / p99', '(b) p50', '(b) p99', 'tick lag p50', 'tick lag p99'], rows), '',
    `Ticks of the schedule over all trials: ${audit}.`, '',
    'Kubernetes client-go leader election with its common defaults (LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s, ' +
    'retries jittered by up to 1.2 × RetryPeriod), described, not run: after a crash a follower takes over only once it has seen the ' +
    'record unchanged for a whole LeaseDuration and its next jittered retry comes round, i.e. 15 s to about 19.4 s; on a graceful stop ' +
    'with ReleaseOnCancel the lease is emptied, but followers still notice only on their next retry, 0 to 4.4 s later. Baton followers ' +
    'are woken by the release (pub/sub), by the key\'s expiry (its `expired` keyspace event) and, after a crash, by the lease lapsing: each ' +
    'renewal is broadcast too (pub/sub), and a whole lease without one wakes them without waiting for Redis to expire the key; their poll of ' +
    'the lease (one lease after its ttl while keyspace events reach them, at its ttl otherwise) is only the safety net.', '',
    '![failover timeline](bench-failover.svg)', ''].join('\n');
}

function firelagSection(f) {
  const fmt = (s) => (s ? `${s.median} / ${s.p99} / ${s.max}` : '–');
  const rows = f.cases.map((c) => (c.error ? [c.system, c.n, c.mode, `not measured: ${c.error}`, '', '', '', '', '', '', '', '', ''] : [c.system, c.n, c.mode, `${c.enqueued}/${c.expected}`, c.lost, c.owed ?? '–', c.doubled, c.reRun, c.handedBack ?? '–', c.notStarted,
    fmt(c.enqueueLagMs), fmt(c.startLagMs), c.floor ? `${c.floor.medianMs} ms (${c.floor.perSecond}/s)` : '']));
  return ['## Fire lag', '',
    `${f.config.nodes} Baton nodes (lease ${f.config.leaseMs} ms, worker concurrency ${f.config.concurrency}, LOG_LEVEL=warn, the \`log\` handler) ` +
    `against BullMQ Job Schedulers (\`upsertJobScheduler(name, { pattern: '* * * * * *' })\`) run by ${f.config.nodes} plain BullMQ Worker processes with ` +
    `concurrency ${f.config.concurrency} and a no-op processor; every case on its own fresh redis-server, all in one bench run. ` +
    `Judged: the ${f.config.windowS} s window after a ${f.config.warmupS} s warm-up. Enqueue lag = Redis's clock when the job's \`waiting\` event was written − ` +
    'its scheduled instant; handler-start lag = its first `active` event (BullMQ\'s `processedOn`) − the instant. `kill`: SIGKILL of one process in ' +
    'the middle of the window (Baton: the leader; BullMQ: a worker). Jobs never started before the drain timed out count with the time waited. ' +
    'Doubled = completed twice; re-run = its handler started twice (the job\'s `ats` above 1: a killed worker\'s job recovered); handed back = ' +
    'taken twice but started once (a stopping Baton node gives a fetched job back untouched); where handed back reads –, the run predates ' +
    'that column and re-run counts both. Floor = bullmq `addBulk` of the same N jobs on the idle server, median, same run.', '',
    md(['system', 'N', 'mode', 'jobs', 'lost', 'owed', 'doubled', 're-run', 'handed back', 'not started', 'enqueue lag p50 / p99 / max ms', 'handler start p50 / p99 / max ms', 'floor'], rows), '',
    '![fire lag CDF](bench-firelag.svg)', ''].join('\n');
}

function otherSections(R) {
  const out = [];
  const t = R.throughput;
  if (t) {
    out.push('## Throughput', '', `Two workers (concurrency ${t.config.concurrency}, no-op handler) in one process, each on its own queue of ` +
      `${t.config.jobs} waiting jobs (${t.config.rounds} rounds, each on freshly filled queues), taking turns in ${t.config.sliceMs} ms slices: one runs, the other is paused.`, '',
      md(['worker', 'slices', 'jobs', 'jobs/s per slice p50', 'min', 'max', 'all slices', 'worker CPU µs/job', 'Redis CPU µs/job', 'Redis commands/job'],
        ['raw', 'baton'].map((v) => [v === 'raw' ? 'raw BullMQ Worker' : 'BatonWorker', t[v].slices, t[v].jobs, Math.round(t[v].perSecond.median),
          Math.round(t[v].perSecond.min), Math.round(t[v].perSecond.max), t[v].overallPerSecond, t[v].workerCpuUsPerJob, t[v].redisCpuUsPerJob,
          t[v].redisCommandsPerJob])), '',
      `Baton / raw over ${t.pairedRatios.length} pairs of adjacent slices (which cancels the machine's drift): median **${t.ratioPaired.median}** ` +
        `(min ${t.ratioPaired.min}, max ${t.ratioPaired.max}); all jobs over all slice time: ${t.ratioOverall}.`, '');
  }
  const c = R.coordination;
  if (c) {
    out.push('## Coordination cost at idle', '', `Default settings (${c.config.settings}), no schedules, ${c.config.windowS} s window. Total from \`INFO commandstats\`; split per node and per connection from MONITOR.`, '',
      md(['nodes', 'Redis commands/s', 'per node', 'leader', 'follower p50', 'follower max', 'a median follower, by connection'],
        c.results.map((x) => [x.nodes, x.commandstats.perSecond, x.commandstats.perNodePerSecond, x.leader?.perSecond, x.followers.median,
          x.followers.max, Object.entries(x.followerMedianNode?.byRole ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')])), '');
  }
  const s = R.scale;
  if (s) {
    out.push('## Scale', '', `One node wins with N once-a-minute schedules, each owing one missed tick; ${s.config.reps} repetitions. ` +
      'Armed = the first catch-up job is in Redis (the queue stream\'s first `added` event: all loaded, cron armed, catch-up planned); caught up = all N jobs are in the queue (wait + active + delayed + completed + failed; the node\'s own worker runs them meanwhile). From the instant it won (Redis clock).', '',
      md(['schedules', 'armed p50 ms', 'armed max', 'caught up p50 ms', 'caught up max', 'RSS MiB p50', 'peak RSS MiB max'],
        s.results.map((x) => [x.n, x.armedMs.median, x.armedMs.max, x.caughtUpMs.median, x.caughtUpMs.max, x.rssMiB.median, x.peakRssMiB.max])), '');
  }
  const e = R.enqueue;
  if (e?.enqueue) {
    out.push('## Enqueue (fenced writeTicks vs raw addBulk)', '', md(['N', 'raw addBulk p50 ms', 'fenced p50 ms', 'fenced p99 ms', 'fenced/raw'],
      e.enqueue.map((x) => [x.n, x.raw.wallMs.median, x.fenced.wallMs.median, x.fenced.wallMs.p99, x.ratioMedian])), '');
  }
  return out.join('\n');
}

/** writeReport: the markdown and the pictures from the newest results (smoke: from bench/results/smoke into outDir). */
function writeReport({ smoke = false, outDir = path.join(ROOT, 'docs'), log = () => undefined } = {}) {
  const dir = smoke ? path.join(RESULTS, 'smoke') : RESULTS;
  const R = {};
  const sources = [];
  for (const name of NAMES) {
    const found = latestResult(name, dir);
    if (found?.data.bench || (name === 'enqueue' && found)) { R[name] = found.data; sources.push(`${name}: ${path.basename(found.file)} (${found.data.at}, commit ${found.data.machine?.commit}${found.data.machine?.dirty ? '+' : ''}, load ${found.data.machine?.loadavg?.join(' ')}${found.data.machine?.redisArgs ? `, redis-server ${found.data.machine.redisArgs}` : ''})`); }
  }
  const m = Object.values(R)[0]?.machine ?? {};
  const parts = ['# Benchmarks', '', 'Generated by `node bench/report.js` from the newest `bench/results/*.json` (written by `npm run bench -- all`). Do not edit by hand.', '',
    '```bash', 'npm ci                       # needs redis-server on the PATH', 'npm run bench -- all         # every benchmark (~30 min), then this page',
    'npm run bench -- failover    # one: enqueue | failover | firelag | throughput | coordination | scale', 'npm run bench -- all --smoke # tiny sizes, nothing judged (CI)', '```', '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.totalMemGiB} GiB, ${m.platform}; Node ${m.node}, Redis ${m.redis}, bullmq ${m.bullmq}, ioredis ${m.ioredis}, node-cron ${m.nodeCron}.`, '',
    'Results used (commit, `+` when the tree had uncommitted changes; load average at the start of each: the machine is shared, compare figures of one run only):', '', ...sources.map((s) => `- ${s}`), '',
    '## Targets', '', targetsTable(R), ''];
  if (R.failover) parts.push(failoverSection(R.failover));
  if (R.firelag) parts.push(firelagSection(R.firelag));
  parts.push(otherSections(R));
  const notes = path.join(__dirname, 'NOTES.md');
  if (fs.existsSync(notes)) parts.push(fs.readFileSync(notes, 'utf8'));
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'BENCHMARKS.md'), `${parts.join('\n')}\n`);
  if (R.failover) {
    const lease = R.failover.leases.find((l) => l.lease === 2000) ?? R.failover.leases[0];
    fs.writeFileSync(path.join(outDir, 'bench-failover.svg'), failoverSvg(lease.timelines));
  }
  const pick = R.firelag?.cases.filter((c) => c.n === 1000 && c.mode === 'steady' && !c.error);
  const cases = pick?.length ? pick : R.firelag?.cases.filter((c) => c.mode === 'steady' && !c.error).slice(0, 2);
  if (cases?.length) {
    const series = cases.flatMap((c) => [{ label: `${c.system}: handler start (N=${c.n})`, q: c.startCdf }, { label: `${c.system}: enqueue (N=${c.n})`, q: c.enqueueCdf, dashed: true }]);
    fs.writeFileSync(path.join(outDir, 'bench-firelag.svg'), cdfSvg('Fire lag, every-second schedules: Baton vs BullMQ Job Schedulers (CDF, log scale)', series));
  }
  log(`report: wrote ${path.relative(process.cwd(), path.join(outDir, 'BENCHMARKS.md'))} and its pictures`);
}

if (require.main === module) writeReport({ smoke: process.argv.includes('--smoke'), log: (s) => process.stdout.write(`${s}\n`) });

module.exports = { writeReport };
