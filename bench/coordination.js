'use strict';
// coordination: what idle Baton nodes cost Redis. N real nodes with default
// settings (lease 5 s, heartbeat 5 s, job lock 10 s), no schedules, LOG_LEVEL=warn.
// After they settle, over W seconds: Redis's own count (`INFO commandstats`
// deltas after CONFIG RESETSTAT, which include commands run by Lua and inside
// MULTI) for the total, and MONITOR, with each client address mapped to its
// node (/proc) and connection name (CLIENT LIST), for the split per node,
// leader versus followers, and per connection role.
const { Redis } = require('ioredis');
const { batonKeys } = require('@lib/common');
const { startRedisServer } = require('./lib/redis-server');
const { NodeSet, sleep, pollUntil } = require('./lib/nodes');
const { startMonitor, redisPortsByPid, clientNames } = require('./lib/monitor');
const { summarize } = require('./lib/stats');
const { table, round } = require('./lib/report-io');

async function commandstatsTotal(admin) {
  const info = await admin.info('commandstats');
  const byCmd = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config|monitor|client)/.test(m[1])) byCmd[m[1]] = Number(m[2]);
  return { total: Object.values(byCmd).reduce((s, x) => s + x, 0), byCmd };
}

function attribute(seen, set, redisPort, names) {
  const ids = set.running();
  const ports = redisPortsByPid(ids.map((id) => set.procs.get(id).pid), redisPort);
  const nodeOfPort = new Map();
  for (const id of ids) for (const p of ports.get(set.procs.get(id).pid) ?? []) nodeOfPort.set(p, id);
  const perNode = new Map(ids.map((id) => [id, { total: 0, byRole: {}, byCmd: {} }]));
  let unattributed = 0;
  for (const { source, cmd } of seen) {
    const node = nodeOfPort.get(Number(source.split(':').pop()));
    if (!node) { unattributed++; continue; }
    const n = perNode.get(node);
    const role = names.get(source) ?? '(closed)';
    n.total++;
    n.byRole[role] = (n.byRole[role] ?? 0) + 1;
    n.byCmd[cmd] = (n.byCmd[cmd] ?? 0) + 1;
  }
  return { perNode, unattributed };
}

async function measure(url, port, n, cfg, log) {
  const prefix = `co${n}`;
  const admin = new Redis(url);
  const set = new NodeSet({ redisUrl: url, prefix, env: { LOG_LEVEL: 'warn' } });
  try {
    for (let i = 0; i < n; i += 2) await Promise.all([`n${i + 1}`, `n${i + 2}`].slice(0, n - i).map((id) => set.start(id)));
    await pollUntil(() => admin.get(batonKeys(prefix).leader), 15_000);
    await sleep(cfg.settleS * 1000);
    const monitor = startMonitor(port);
    await monitor.ready;
    await admin.config('RESETSTAT');
    const t0 = Date.now();
    await sleep(cfg.windowS * 1000);
    const stats = await commandstatsTotal(admin);
    const seconds = (Date.now() - t0) / 1000;
    const names = await clientNames(admin);
    const seen = await monitor.stop();
    const leader = String(await admin.get(batonKeys(prefix).leader)).replace(/^\d+:/, '');
    const { perNode, unattributed } = attribute(seen, set, port, names);
    const nodes = [...perNode].map(([id, v]) => ({ id, role: id === leader ? 'leader' : 'follower', perSecond: round(v.total / seconds, 2),
      byRole: perSecondOf(v.byRole, seconds), byCmd: perSecondOf(v.byCmd, seconds) }));
    const followers = nodes.filter((x) => x.role === 'follower');
    const out = { nodes: n, seconds: round(seconds, 1), leader: nodes.find((x) => x.role === 'leader'),
      followers: summarize(followers.map((x) => x.perSecond)),
      followerMedianNode: followers.sort((a, b) => a.perSecond - b.perSecond)[Math.floor(followers.length / 2)],
      commandstats: { perSecond: round(stats.total / seconds, 2), perNodePerSecond: round(stats.total / seconds / n, 2),
        byCmd: perSecondOf(stats.byCmd, seconds) },
      monitorPerSecond: round(seen.length / seconds, 2), unattributedPerSecond: round(unattributed / seconds, 2), allNodes: nodes };
    log(`${n} idle nodes over ${out.seconds} s: Redis counted ${out.commandstats.perSecond} commands/s ` +
      `(${out.commandstats.perNodePerSecond} per node); leader ${out.leader?.perSecond}/s, followers median ` +
      `${out.followers.median}/s (max ${out.followers.max}); by role of a median follower: ${JSON.stringify(out.followerMedianNode?.byRole)}`);
    return out;
  } finally {
    await set.killAll();
    admin.disconnect();
  }
}

function perSecondOf(counts, seconds) {
  return Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, round(v / seconds, 2)]));
}

/** run (`npm run bench -- coordination`). Env: BENCH_COORD_NODES (3,10), BENCH_COORD_WINDOW_S (30). */
async function run({ smoke, log }) {
  const env = process.env;
  const config = smoke ? { sizes: [3], windowS: 2, settleS: 1 }
    : { sizes: (env.BENCH_COORD_NODES ?? '3,10').split(',').map(Number), windowS: Number(env.BENCH_COORD_WINDOW_S ?? 30), settleS: 6 };
  Object.assign(config, { settings: 'defaults: BATON_LEASE_MS 5000, BATON_HEARTBEAT_MS 5000, BATON_JOB_LOCK_MS 10000' });
  log(`config ${JSON.stringify(config)}`);
  const results = [];
  for (const n of config.sizes) {
    const server = await startRedisServer();
    try {
      results.push(await measure(server.url, server.port, n, config, log));
    } finally {
      await server.stop();
    }
  }
  log(table(['nodes', 'Redis cmds/s (commandstats)', 'per node', 'leader cmds/s', 'follower p50', 'follower max', 'target follower'],
    results.map((r) => [r.nodes, r.commandstats.perSecond, r.commandstats.perNodePerSecond, r.leader?.perSecond, r.followers.median,
      r.followers.max, '≤ 1'])));
  return { config, results };
}

module.exports = { run };
