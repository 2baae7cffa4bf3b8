import {
  atMidSecond,
  renewDeadlineOf,
  runFigures,
  settleAndCheck,
  shutdownScenarios,
  startTicking,
  term,
  untilTime,
  waitForElection,
  withCluster,
} from './harness';

// Each node talks to Redis through its own TcpProxy (proxied: true), so the
// leader alone can be partitioned or slowed while the others carry on.
const LEASE_MS = 2000;
const RENEW_DEADLINE_MS = renewDeadlineOf(LEASE_MS);
const options = { leaseMs: LEASE_MS, jobLockMs: 2000, proxied: true };

describe('chaos: the leader partitioned from Redis', () => {
  afterEach(shutdownScenarios);

  it(
    'a leader black-holed for two leases steps down before its lease could expire, enqueues nothing after, and the rest take over',
    withCluster(options, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick');
      const stale = first.source;
      const holedAt = await atMidSecond();
      cluster.blackholeRedis(stale);

      const next = await waitForElection(cluster, LEASE_MS + 8000, { aboveTerm: term(first), notBy: stale });
      const lost = await cluster.waitForEvent(
        (r) => r.event === 'leader.lost' && r.source === stale && term(r) === term(first),
        LEASE_MS,
        `leader.lost from the black-holed ${stale}`,
      );
      console.log(
        `black hole on leader ${stale}: leader.lost (${lost.reason}) after ${lost.time - holedAt} ms ` +
          `(renew deadline ${RENEW_DEADLINE_MS}), ${next.source} elected after ${next.time - holedAt} ms (lease ${LEASE_MS})`,
      );
      // It stopped on its own clock before the lease it last renewed (at or before holedAt) could expire.
      expect(lost.time - holedAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 150);
      expect(lost.time).toBeLessThan(next.time);
      expect(next.time - holedAt).toBeLessThan(LEASE_MS + 1500);

      await untilTime(holedAt + 2 * LEASE_MS);
      const healedAt = Date.now();
      cluster.healRedis(stale);
      await cluster.waitReady(stale, 15_000);

      const check = await settleAndCheck(cluster, receiver, 'tick', healedAt + 3000);
      const lateFires = cluster.events((r) => r.event === 'schedule.fired' && r.source === stale && r.time > lost.time);
      console.log(`after heal: ${JSON.stringify(runFigures(cluster, check, check.window.fromMs, check.window.toMs))}`);
      expect(lateFires).toEqual([]);
      expect(check.problems).toEqual([]);
    }),
    60_000,
  );

  it(
    'latency of 0.8 × the renew deadline on the leader for 30 s moves leadership at most twice (no storm)',
    withCluster(options, async (ctx) => {
      const { cluster, receiver } = ctx;
      const first = await startTicking(ctx, 'tick');
      const slowedAt = await atMidSecond();
      const latencyMs = Math.round(0.8 * RENEW_DEADLINE_MS);
      cluster.slowRedis(first.source, latencyMs);
      await untilTime(slowedAt + 30_000);
      cluster.healRedis(first.source);

      const check = await settleAndCheck(cluster, receiver, 'tick', Date.now() + 3000);
      const figures = runFigures(cluster, check, slowedAt, slowedAt + 30_000);
      const terms = cluster.events('leader.elected').map((r) => `${r.source}:${String(r.term)}`);
      console.log(`latency ${latencyMs} ms on leader ${first.source} for 30 s: ${JSON.stringify(figures)}, elections ${terms.join(' ')}`);
      expect(figures.transitions).toBeLessThanOrEqual(2);
      expect(check.problems).toEqual([]);
    }),
    75_000,
  );
});
