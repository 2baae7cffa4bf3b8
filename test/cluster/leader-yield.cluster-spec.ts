import {
  actingLeaderProblems,
  atMidSecond,
  clusterView,
  settleAndCheck,
  shutdownScenarios,
  startTicking,
  term,
  untilTime,
  waitUntil,
  withCluster,
  type BatonCluster,
  type LogRecord,
} from './harness';

// Real node processes of the built app (npm run build first). While a node
// leads, its own worker yields jobs to the other nodes when the leader's
// ticks reach the queue late (LeaderWorkerYield: `worker.throttled`, then
// `worker.restored` once instants are on time again). The leader's ticks are
// made late deterministically: its process is stopped (SIGSTOP) for PAUSE_MS
// mid-second, so the timer promoting the next instant fires only on SIGCONT,
// hundreds of ms after that instant.
//
// The lease is long enough for the leader to keep its term through the pause:
// lease 8 s gives a renew deadline of 4.8 s and a retry period of 2 s, so at
// most 2 s + PAUSE_MS = 3.5 s pass without a renew. Job locks (5 s) outlast the
// pause too, so no job of the paused worker is taken for stalled.
const LEASE_MS = 8000;
const PAUSE_MS = 1500;
/** LAG_MS: BATON_LEADER_YIELD_LAG_MS (off by default; set for every node here). */
const LAG_MS = 100;
/** QUIET_MS: LeaderWorkerYield's default quietMs (the limit doubles each time this passes without a late instant). */
const QUIET_MS = 5000;
/** CONCURRENCY: BATON_WORKER_CONCURRENCY (the harness default, set explicitly here). */
const CONCURRENCY = 4;
/** HEARTBEAT_MS: BATON_HEARTBEAT_MS of the lone-leader test (the peer count is cached this long). */
const HEARTBEAT_MS = 500;
const yieldEnv = { BATON_LEADER_YIELD_LAG_MS: String(LAG_MS) };
const base = { leaseMs: LEASE_MS, jobLockMs: 5000, workerConcurrency: CONCURRENCY, env: yieldEnv };

/** doublingsTo: quiet periods from `limit` back to `max` (each doubles it; 0 becomes 1). */
function doublingsTo(limit: number, max: number): number {
  let n = 0;
  for (let l = limit; l < max; l = Math.max(1, l * 2)) n++;
  return n;
}

const bySource = (node: string, event: string) => (r: LogRecord) => r.source === node && r.event === event;

/** yielding: whether `node`'s last yield event was `worker.throttled` (not restored since). */
function yielding(cluster: BatonCluster, node: string): boolean {
  const last = cluster.events((r) => r.source === node && (r.event === 'worker.throttled' || r.event === 'worker.restored')).pop();
  return last?.event === 'worker.throttled';
}

/**
 * pauseLeader waits until `node`'s worker has its full concurrency (a late
 * instant while the cluster booted may have throttled it), then SIGSTOPs it
 * mid-second for PAUSE_MS and SIGCONTs it. Returns when each happened.
 */
async function pauseLeader(cluster: BatonCluster, node: string): Promise<{ pausedAt: number; resumedAt: number }> {
  await waitUntil(() => !yielding(cluster, node), { deadlineMs: 4 * QUIET_MS + 10_000, what: `${node} back to full concurrency` });
  const pausedAt = await atMidSecond();
  cluster.pause(node);
  await untilTime(pausedAt + PAUSE_MS);
  const resumedAt = Date.now();
  cluster.resume(node);
  return { pausedAt, resumedAt };
}

/** termProblems: the leader elected by `first` never lost or resigned its term and nobody else was elected. */
function termProblems(cluster: BatonCluster, first: LogRecord): string[] {
  const others = cluster.events((r) => r.event === 'leader.elected' && r !== first);
  const ended = cluster.events((r) => r.source === first.source && (r.event === 'leader.lost' || r.event === 'leader.resigned'));
  return [...others, ...ended].map((r) => `${r.source} ${r.event} term ${r.term} at ${r.time}`);
}

describe('the leader yields its worker while its ticks are late', () => {
  afterEach(shutdownScenarios);

  it(
    'a leader whose ticks came late throttles its worker (peers 2) and restores it once instants are on time; ticks stay exactly once',
    withCluster(base, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick');
      const leader = first.source;
      const { pausedAt, resumedAt } = await pauseLeader(cluster, leader);

      const throttled = await cluster.waitForEvent(
        (r) => bySource(leader, 'worker.throttled')(r) && r.time >= pausedAt,
        5000,
        `worker.throttled from the leader ${leader} after its pause`,
      );
      const restored = await cluster.waitForEvent(
        (r) => bySource(leader, 'worker.restored')(r) && r.time >= throttled.time,
        4 * QUIET_MS + 10_000,
        `worker.restored from the leader ${leader}`,
      );
      console.log(
        `leader ${leader} paused ${resumedAt - pausedAt} ms: worker.throttled ${throttled.time - resumedAt} ms after SIGCONT ` +
          `(limit ${throttled.limit}/${throttled.maxConcurrency}, lag ${throttled.lagMs} ms for ${throttled.scheduledFor}, ` +
          `peers ${throttled.peers}); worker.restored ${restored.time - throttled.time} ms later (limit ${restored.limit})`,
      );
      expect(throttled.peers).toBe(2);
      expect(throttled.maxConcurrency).toBe(CONCURRENCY);
      expect(throttled.limit).toBeLessThan(CONCURRENCY);
      expect(throttled.limit).toBeGreaterThanOrEqual(0);
      expect(throttled.lagMs).toBeGreaterThan(LAG_MS);
      // the late instant is one that came while the leader was stopped
      const lateInstant = Date.parse(String(throttled.scheduledFor));
      expect(lateInstant).toBeGreaterThan(pausedAt);
      expect(lateInstant).toBeLessThanOrEqual(resumedAt);
      expect(restored.limit).toBe(CONCURRENCY);
      // each QUIET_MS without a late instant doubles the limit (0 to 1): from the throttled limit back
      // to CONCURRENCY takes that many quiet periods; allow one more for a second late instant
      const periods = doublingsTo(throttled.limit as number, CONCURRENCY);
      expect(restored.time - throttled.time).toBeGreaterThanOrEqual(periods * QUIET_MS - 1000);
      expect(restored.time - throttled.time).toBeLessThan((periods + 1) * QUIET_MS + 2000);
      expect(cluster.events(bySource(leader, 'worker.throttled')).filter((r) => r.time >= pausedAt)).toHaveLength(1);
      // the followers never led, so they never yield
      expect(cluster.events((r) => r.source !== leader && (r.event === 'worker.throttled' || r.event === 'worker.restored'))).toEqual([]);

      const check = await settleAndCheck(cluster, receiver, 'tick', Date.now() + 2000);
      console.log(`tick: ${check.report.instants.length} instants, ${check.report.redelivered.length} redelivered job(s)`);
      expect(check.problems).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
      expect(termProblems(cluster, first)).toEqual([]);
      expect(term(first)).toBeGreaterThan(0);
    }),
    90_000,
  );

  it(
    'a leader left alone (followers stopped with SIGTERM) keeps its whole worker when its ticks are late, and its ticks still run',
    withCluster({ ...base, env: { ...yieldEnv, BATON_HEARTBEAT_MS: String(HEARTBEAT_MS) } }, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick');
      const leader = first.source;
      const followers = cluster.ids.filter((id) => id !== leader);

      // With its peers up, the same pause throttles it: the pause does make its ticks late in this cluster.
      const before = await pauseLeader(cluster, leader);
      const throttled = await cluster.waitForEvent(
        (r) => bySource(leader, 'worker.throttled')(r) && r.time >= before.pausedAt,
        5000,
        `worker.throttled from the leader ${leader} with its peers up`,
      );
      expect(throttled.peers).toBe(followers.length);
      await cluster.waitForEvent(
        (r) => bySource(leader, 'worker.restored')(r) && r.time >= throttled.time,
        4 * QUIET_MS + 10_000,
        `worker.restored from the leader ${leader}`,
      );

      // The followers leave the cluster view (a graceful stop removes their heartbeat).
      await Promise.all(followers.map((id) => cluster.stop(id)));
      for (const id of followers) expect(cluster.node(id).exit).toEqual({ code: 0, signal: null });
      const stoppedAt = Date.now();
      const view = await clusterView(cluster, leader);
      expect(view.nodes.map((n) => n.nodeId)).toEqual([leader]);
      // The leader trusts a peer count for one heartbeat: let any it read before the stop expire.
      await untilTime(stoppedAt + 3 * HEARTBEAT_MS);

      const alone = await pauseLeader(cluster, leader);
      const late = await cluster.waitForEvent(
        (r) => bySource(leader, 'schedule.fired')(r) && r.time >= alone.resumedAt && Number(r.lagMs) > LAG_MS,
        5000,
        `a late schedule.fired from the lone leader ${leader}`,
      );
      // Observe for longer than one quiet period (and for the
      // asynchronous peer read behind a late instant to answer).
      await untilTime(alone.resumedAt + QUIET_MS + 2000);
      const lateFires = cluster.events((r) => bySource(leader, 'schedule.fired')(r) && r.time >= alone.pausedAt && Number(r.lagMs) > LAG_MS);
      console.log(
        `lone leader ${leader} paused ${alone.resumedAt - alone.pausedAt} ms: first late fire ${late.scheduledFor} lag ${late.lagMs} ms, ` +
          `${lateFires.length} late fire(s); followers stopped ${alone.pausedAt - stoppedAt} ms before the pause`,
      );
      expect(cluster.events((r) => bySource(leader, 'worker.throttled')(r) && r.time >= stoppedAt)).toEqual([]);
      expect(yielding(cluster, leader)).toBe(false);

      const check = await settleAndCheck(cluster, receiver, 'tick', Date.now() + 2000);
      console.log(`tick: ${check.report.instants.length} instants, ${check.report.redelivered.length} redelivered job(s)`);
      expect(check.problems).toEqual([]);
      expect(actingLeaderProblems(cluster.records)).toEqual([]);
      expect(termProblems(cluster, first)).toEqual([]);
      // after the followers left, the lone leader's worker ran every tick
      const afterStop = receiver.deliveries.filter((d) => d.body?.schedule === 'tick' && d.receivedAt > stoppedAt);
      expect(afterStop.length).toBeGreaterThan(QUIET_MS / 1000);
    }),
    90_000,
  );
});
